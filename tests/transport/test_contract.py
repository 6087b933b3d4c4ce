"""The transport contract, one suite for every transport: LocalTransport (with and without the JSON
round trip) and HttpTransport against a real server on 127.0.0.1, on each database, and MockTransport.

The mock's handler is no server: it gives the answers a real ftrack server gave
(tests/fixtures/ftrack-wire) and refuses an unknown action as PROTOCOL.md says ftrack does.
The tests that check what a server does with data skip on it; those about the interface,
the answers' shape, the mapping of errors and closing run on it too, without the server extra.
"""

import datetime
import json
import pathlib
import uuid

import pytest

from ftrack_like_api.exceptions import ServerError
from ftrack_like_api.transport import LocalTransport, MockTransport

RECORDED = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ftrack-wire"


def replay(batch):
    """One recorded answer of a real ftrack server per operation; ftrack's refusal of an action it has not."""
    results = []
    for operation in batch:
        if operation == {"action": "query_server_information"}:
            results.append(json.loads((RECORDED / "query_server_information.json").read_text()))
        elif operation == {"action": "query", "expression": "select name from Task limit 1"}:
            results.append(json.loads((RECORDED / "query_select_name_from_task_limit_1.json").read_text()))
        else:
            return {"exception": "ServerError", "content": f"Invalid action {operation['action']!r}", "error_code": None}
    return results


@pytest.fixture(scope="module")
def served(database):
    """A real server on the module's database: (its URL, an API key of admin's)."""
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    from ftrack_like_api.server import Backend
    from ftrack_like_api.server.app import create_app, serving

    with Backend.from_url(database) as backend, serving(create_app(backend)) as url:
        yield url, backend.auth.create_key("admin", "transport contract")


@pytest.fixture(params=["local-json", "local-direct", "http", "mock"])
def transport(request, database):
    if request.param == "mock":
        made = MockTransport(replay)
    elif request.param == "http":
        from ftrack_like_api.transport.http import HttpTransport

        url, key = request.getfixturevalue("served")
        made = HttpTransport(url, "admin", key)
    else:
        pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
        made = LocalTransport(database, "admin", json_round_trip=request.param == "local-json")
    yield made
    made.close()


@pytest.fixture
def real_server(transport):
    """For a test of what a server does with data: skips on the mock transport."""
    if isinstance(transport, MockTransport):
        pytest.skip("checks what a real server does with the data; the mock only replays answers")


def test_a_transport_is_its_own_context_manager(transport):
    with transport as entered:
        assert entered is transport


def test_one_answer_per_operation_in_order_in_the_protocols_shape(transport):
    results = transport.handle([
        {"action": "query", "expression": "select name from Task limit 1"},
        {"action": "query_server_information"},
    ])  # fmt: skip
    assert len(results) == 2
    assert results[0]["action"] == "query" and isinstance(results[0]["data"], list)
    assert set(results[0]["metadata"]["next"]) == {"offset"}
    assert {"schema_hash", "version", "storage_scenario"} <= set(results[1])


def test_one_result_per_operation_in_order(transport, real_server):
    results = transport.handle([
        {"action": "query_server_information"},
        {"action": "query", "expression": "select name from Status where name is Approved"},
    ])  # fmt: skip
    assert len(results) == 2
    assert "schema_hash" in results[0]
    assert [row["name"] for row in results[1]["data"]] == ["Approved"]


def test_an_unknown_action_is_a_server_error_saying_so(transport):
    with pytest.raises(ServerError, match="Invalid action 'no_such_action'"):
        transport.handle([{"action": "query_server_information"}, {"action": "no_such_action"}])


def test_an_error_answer_is_a_server_error_naming_the_operation(transport, real_server):
    key = str(uuid.uuid4())
    with pytest.raises(ServerError) as raised:
        transport.handle([
            {"action": "query", "expression": "Status"},
            {"action": "create", "entity_type": "Task", "entity_key": [key], "entity_data": {"id": key, "nmae": "x"}},
        ])  # fmt: skip
    error = raised.value
    assert error.exception == "ValidationError" and error.code == "unknown_attribute"
    assert error.operation == {"index": 1, "action": "create", "entity_type": "Task", "entity_key": [key]}
    assert "did you mean name?" in str(error)


def test_a_batch_that_is_not_json_is_refused_before_it_leaves(transport):
    if isinstance(transport, LocalTransport) and not transport.json_round_trip:
        pytest.skip("json_round_trip=False hands values over as they are")
    with pytest.raises(TypeError):
        transport.handle([{"action": "query", "expression": datetime.datetime.now()}])


def test_a_closed_transport_opens_again(transport):
    transport.close()
    assert "schema_hash" in transport.handle([{"action": "query_server_information"}])[0]
    transport.close()
    transport.close()  # closing twice is no error
    assert "schema_hash" in transport.handle([{"action": "query_server_information"}])[0]


def test_the_json_round_trip_hands_back_copies_and_refuses_what_cannot_travel(database):
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    with LocalTransport(database, "admin") as transport:
        first = transport.handle([{"action": "query", "expression": "select name from Status limit 1"}])
        first[0]["data"][0]["name"] = "changed here"
        second = transport.handle([{"action": "query", "expression": "select name from Status limit 1"}])
        assert second[0]["data"][0]["name"] != "changed here"
        with pytest.raises(TypeError, match="A batch must be JSON"):
            transport.handle([{"action": "query", "expression": datetime.datetime.now()}])


def test_constructing_touches_nothing(tmp_path):
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    path = pathlib.Path(tmp_path) / "later.db"
    transport = LocalTransport(f"sqlite:///{path}", "admin")
    assert not path.exists()
    transport.handle([{"action": "query", "expression": "Status limit 1"}])
    assert path.exists()
    transport.close()


def test_a_database_that_cannot_be_opened_is_a_database_error_naming_the_folder(tmp_path):
    pytest.importorskip("sqlalchemy", reason="the server extra is not installed")
    from ftrack_like_api.exceptions import DatabaseError

    blocker = pathlib.Path(tmp_path) / "file"
    blocker.write_text("not a directory")
    transport = LocalTransport(f"sqlite:///{blocker}/studio.db", "admin")
    with pytest.raises(DatabaseError, match=f"Cannot open the database sqlite:///.*: the folder {blocker} is not a folder"):
        transport.handle([{"action": "query", "expression": "Status"}])
    missing = pathlib.Path(tmp_path) / "no" / "such"
    transport = LocalTransport(f"sqlite:///{missing}/studio.db", "admin")
    with pytest.raises(DatabaseError, match=f"the folder {missing} does not exist"):
        transport.handle([{"action": "query", "expression": "Status"}])
    assert not missing.exists()


@pytest.mark.parametrize("url, words", [("http://example", "needs a database URL"), ("", "needs a database URL")])
def test_a_wrong_url_is_refused_at_once(url, words):
    with pytest.raises(ValueError, match=words):
        LocalTransport(url, "admin")
