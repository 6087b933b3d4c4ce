"""The transport contract, one suite for every transport: LocalTransport (with and without the JSON
round trip) and HttpTransport against a real server on 127.0.0.1, on each database."""

import datetime
import pathlib
import uuid

import pytest

from ftrack_like_api.exceptions import ServerError
from ftrack_like_api.transport import LocalTransport, Transport

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")


@pytest.fixture(scope="module")
def served(database):
    """A real server on the module's database: (its URL, an API key of admin's)."""
    from ftrack_like_api.server import Backend
    from ftrack_like_api.server.app import create_app, serving

    with Backend.from_url(database) as backend, serving(create_app(backend)) as url:
        yield url, backend.auth.create_key("admin", "transport contract")


@pytest.fixture(params=["local-json", "local-direct", "http"])
def transport(request, database, served):
    if request.param == "http":
        from ftrack_like_api.transport.http import HttpTransport

        made = HttpTransport(served[0], "admin", served[1])
    else:
        made = LocalTransport(database, "admin", json_round_trip=request.param == "local-json")
    yield made
    made.close()


def test_it_is_a_transport(transport):
    assert isinstance(transport, Transport)


def test_one_result_per_operation_in_order(transport):
    results = transport.handle([
        {"action": "query_server_information"},
        {"action": "query", "expression": "select name from Status where name is Approved"},
    ])  # fmt: skip
    assert len(results) == 2
    assert "schema_hash" in results[0]
    assert [row["name"] for row in results[1]["data"]] == ["Approved"]


def test_an_error_answer_is_a_server_error_naming_the_operation(transport):
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


def test_a_closed_transport_opens_again(transport):
    transport.close()
    assert transport.handle([{"action": "query", "expression": "Status limit 1"}])[0]["data"]


def test_the_json_round_trip_hands_back_copies_and_refuses_what_cannot_travel(database):
    with LocalTransport(database, "admin") as transport:
        first = transport.handle([{"action": "query", "expression": "select name from Status limit 1"}])
        first[0]["data"][0]["name"] = "changed here"
        second = transport.handle([{"action": "query", "expression": "select name from Status limit 1"}])
        assert second[0]["data"][0]["name"] != "changed here"
        with pytest.raises(TypeError, match="A batch must be JSON"):
            transport.handle([{"action": "query", "expression": datetime.datetime.now()}])


def test_constructing_touches_nothing(tmp_path):
    path = pathlib.Path(tmp_path) / "later.db"
    transport = LocalTransport(f"sqlite:///{path}", "admin")
    assert not path.exists()
    transport.handle([{"action": "query", "expression": "Status limit 1"}])
    assert path.exists()
    transport.close()


def test_a_database_that_cannot_be_opened_is_a_database_error_naming_the_folder(tmp_path):
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
