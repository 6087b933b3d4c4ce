"""Malformed input over HTTP: always a 4xx JSON error saying what is wrong, never a 500, never SQL.

Each case below once crashed the server (a plain-text 500 that also dropped the kept-alive
connection) or answered the database's own words. The fuzz test at the end sends random
batches built from the wire format's pieces and junk, on a real server over each database.
"""

import json
import logging
import shutil
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftrack_like_api.server import Backend
from ftrack_like_api.server.app import create_app, serving

#: Words of SQL or of a database's errors that must never reach a client.
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "WHERE ", "LINE ", "operator does not exist", "sqlite3", "psycopg",
             "constraint", "Traceback")  # fmt: skip


@pytest.fixture(scope="module")
def http(backend, server):
    """POST a body (text, sent as UTF-8 with surrogates kept as given) to /api in strict mode."""
    key = backend.auth.create_key("admin", "bad input tests")
    connection = requests.Session()
    connection.headers.update({"ftrack-user": "admin", "ftrack-api-key": key, "ftrack-strict-api": "true"})

    def post(body):
        text = body if isinstance(body, str) else json.dumps(body)
        return connection.post(f"{server}/api", data=text.encode("utf-8", "surrogatepass"))

    yield post
    connection.close()


@pytest.fixture(scope="module")
def task(call):
    """A task right under a project (its parent's parent is nothing)."""
    schema_id = call.query("ProjectSchema limit 1")[0]["id"]
    project = call.create("Project", name=f"p{uuid.uuid4().hex[:8]}", full_name="P", project_schema_id=schema_id)
    return call.create("Task", name="t", parent_id=project["id"])["id"]


def refused(response, *words):
    """The answer is a 4xx ValidationError object whose content holds ``words``, and no SQL."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    answer = response.json()
    assert answer["exception"] == "ValidationError", answer
    for word in words:
        assert word in answer["content"], answer
    assert not any(word in response.text for word in SQL_WORDS), response.text[:300]
    return answer


def op(action, **fields):
    return {"action": action, **fields}


CASES = {
    "nested JSON": ("[" * 1000 + "]" * 1000, ["nests", "32 deep"]),
    "nested values": ([op("query_server_information", values=json.loads("[" * 40 + "]" * 40))], ["32 deep"]),
    "an action that is a list": ([op(["query"])], ["Invalid action ['query']"]),
    "an operation that is a number": ([5], ["An operation is an object, not a number"]),
    "entity_data that is text": ([op("create", entity_type="Task", entity_data="abc")], ["entity_data is an object, not text"]),
    "values that is a number": ([op("query_server_information", values=5)], ["values is a list of names"]),
    "values holding lists": ([op("query_server_information", values=[["x"]])], ["values is a list of names"]),
    "entity_type that is a list": ([op("create", entity_type=["Task"], entity_data={})], ["entity_type is text"]),
    "entity_key that is an object": ([op("delete", entity_type="Task", entity_key={"id": 1})], ["entity_key is a value"]),
    "an id that is a list": ([op("create", entity_type="Task", entity_data={"id": []})], ["Task.id takes text"]),
    "NaN": ('[{"action": "query_server_information", "values": [NaN]}]', ["NaN is not a JSON number"]),
    "a key of 10**30 (integer key)": ([op("delete", entity_type="Event", entity_key=[10**30])], ["out of range"]),
    "limit 10**23": ([op("query", expression="Task limit 99999999999999999999999")], ["The limit is", "at most"]),
    "offset 10**23": ([op("query", expression="Task offset 99999999999999999999999")], ["The offset is"]),
    "a comparison past 64 bits": ([op("query", expression="Event where id is 99999999999999999999999")], ["out of range"]),
    "an infinite number": ([op("query", expression="Task where bid > 1e400")], ["not a finite number"]),
    "a lone surrogate in a query":
        ('[{"action": "query", "expression": "Task where name is \\"\\ud800\\""}]', ["lone surrogate"]),
    "a lone surrogate in a name":
        ('[{"action": "create", "entity_type": "Status", "entity_data": {"\\udfff": 1}}]', ["lone surrogate"]),
    "NUL in a query": ([op("query", expression='Task where name is "a\u0000b"')], ["NUL"]),
    "an empty entity_key for reset_remote":
        ([op("reset_remote", reset_type="api_key", entity_type="User", entity_key=[])], ["User is keyed by id"]),
    "an object for reset_remote's key":
        ([op("reset_remote", reset_type="api_key", entity_type="User", entity_key={"a": 1})], ["entity_key is a value"]),
    "a path of 500 steps": ([op("query", expression="select " + ".".join(["parent"] * 500) + ".name from Task")], ["at most 24"]),
    "an empty datetime":
        ([op("create", entity_type="Task", entity_data={"name": "x", "start_date": {"__type__": "datetime"}})], ["takes a datetime"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_input_is_a_clear_4xx(http, case):
    body, words = CASES[case]
    refused(http(body), *words)


def test_a_wire_datetime_whose_value_is_a_number(http, task):
    update = op("update", entity_type="Task", entity_key=[task], entity_data={"start_date": {"__type__": "datetime", "value": 5}})
    refused(http([update]), "Task.start_date takes a datetime", "5 is not ISO 8601 text")


@pytest.mark.parametrize("key", [0, 1.5, 10**30])
def test_a_number_where_a_text_key_goes_is_compared_as_text(http, key):
    # PostgreSQL would not compare text with a number (text = integer): the key is coerced first.
    refused(http([op("delete", entity_type="Task", entity_key=[key])]), f"No Task with id {key}")
    create = op("create", entity_type="Task", entity_data={"name": "x", "parent": {"__entity_type__": "Project", "id": key}})
    refused(http([create]), f"Task.parent_id is {key}, but there is no Context with that id")
    refused(http([op("reset_remote", reset_type="api_key", entity_type="User", entity_key=key)]), "No User with id")


def test_thousands_of_ors_answer_or_say_the_query_is_too_large(http, backend):
    expression = "Task where " + " or ".join(f'name is "{i}"' for i in range(5000))
    response = http([op("query", expression=expression)])
    if backend.dialect.name == "sqlite":  # SQLite parses a chain of 5,000 as 5,000 levels, past its 1,000
        refused(response, "too large or nests too deeply", "in (…)")
    else:
        assert response.status_code == 200 and response.json()[0]["data"] == []


def test_a_path_through_a_polymorphic_parent_that_ends_early(http, task):
    # The task sits right under a project: its parent's parent is null, not an error.
    response = http([op("query", expression=f'select parent.parent.name from Task where id is "{task}"')])
    assert response.status_code == 200, response.text
    [row] = response.json()[0]["data"]
    assert row["parent"]["__entity_type__"] == "Project" and row["parent"]["parent"] is None


def test_a_database_failure_gives_an_error_id_and_the_details_only_in_the_log(fresh_database, caplog):
    with Backend.from_url(fresh_database) as backend, serving(create_app(backend)) as url:
        key = backend.auth.create_key("admin", "error id")
        with backend.engine.begin() as connection:  # the database changes under the server
            connection.exec_driver_sql("ALTER TABLE status RENAME COLUMN name TO gone")
        with caplog.at_level(logging.ERROR):
            response = requests.post(f"{url}/api", data=json.dumps([op("query", expression="select name from Status")]),
                                     headers={"ftrack-user": "admin", "ftrack-api-key": key, "ftrack-strict-api": "true"})  # fmt: skip
    assert response.status_code == 500
    answer = response.json()
    assert answer["exception"] == "ServerError" and answer["error_code"] == "database"
    assert answer["error_id"] in answer["content"] and not any(word in response.text for word in SQL_WORDS)
    [logged] = [r for r in caplog.records if answer["error_id"] in r.getMessage()]
    assert logged.exc_info is not None and "gone" not in response.text


def test_an_unexpected_failure_is_a_json_500_with_an_error_id_and_the_connection_lives(tmp_path, caplog):
    path = tmp_path / "studio.db"
    with Backend.from_url(f"sqlite:///{path}") as backend, serving(create_app(backend)) as url:
        key = backend.auth.create_key("admin", "unexpected")
        backend.engine.dispose()
        for name in ("studio.db-wal", "studio.db-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        shutil.copyfile(__file__, path)  # not a database: even checking the key fails
        with requests.Session() as connection, caplog.at_level(logging.ERROR):
            headers = {"ftrack-user": "admin", "ftrack-api-key": key, "ftrack-strict-api": "true"}
            responses = [connection.post(f"{url}/api", data="[]", headers=headers) for _ in range(2)]
            assert connection.get(f"{url}/health").status_code == 200  # the same kept-alive connection
    for response in responses:
        assert response.status_code == 500 and response.headers["content-type"] == "application/json"
        answer = response.json()
        assert answer["error_code"] == "internal" and answer["error_id"] in answer["content"]
        assert answer["request_id"] == response.headers["x-request-id"]  # what finds the request's log lines
        assert len([r for r in caplog.records if answer["error_id"] in r.getMessage() and r.exc_info]) == 1
        assert "not a database" not in response.text


# --- fuzzing --------------------------------------------------------------------------------

ACTIONS = ["query", "create", "update", "delete", "reset_remote", "query_schemas", "query_server_information", "nope"]
TYPES = ["Task", "Project", "User", "Status", "Event", "Metadata", "TypedContext", "Context", "Nope"]
FRAGMENTS = ["select", "from", "where", "and", "or", "not", "is", "is_not", "in", "like", "has", "any", "limit",
             "offset", "order by", "group by", "count(id)", "name", "id", "parent", "parent.parent.name", "status.name",
             "children", "ancestors", "bid", "sort", "(", ")", ",", '"x"', "0", "1.5", "-1", "None", "true",
             "99999999999999999999999", "1e400", "Task", "Project", "TypedContext", ":p", "'", "\\", "\u00e9", "\x00",
             "\ud800"]  # fmt: skip

junk = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)  # fmt: skip
wire_values = junk | st.builds(lambda kind, value: {"__type__": kind, "value": value},
                               st.sampled_from(["datetime", "date", "nope"]), junk)  # fmt: skip
expressions = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map(" ".join) | st.text(max_size=30)
operations = st.fixed_dictionaries(
    {"action": st.sampled_from(ACTIONS) | junk},
    optional={
        "entity_type": st.sampled_from(TYPES) | junk,
        "entity_key": junk | st.lists(st.text(max_size=36) | st.integers(), max_size=3),
        "entity_data": st.dictionaries(st.sampled_from(["id", "name", "parent_id", "parent", "bid", "start_date",
                                                        "metadata", "children", "username", "__entity_type__"])  # fmt: skip
                                       | st.text(max_size=8), wire_values, max_size=4) | junk,
        "expression": expressions | junk,
        "values": st.lists(st.text(max_size=10), max_size=3) | junk,
        "reset_type": st.sampled_from(["api_key", "name", "bid"]) | junk,
    },
)
batches = st.lists(operations | junk, max_size=3)


def test_fuzzed_batches_never_get_a_5xx_nor_sql(http):
    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(batches)
    def check(batch):
        body = json.dumps(batch)  # lone surrogates and NULs travel escaped, as JSON allows
        response = http(body)
        assert response.status_code < 500, (batch, response.text[:300])
        answer = response.json()  # always JSON
        assert isinstance(answer, (list, dict))
        assert not any(word in response.text for word in SQL_WORDS), (batch, response.text[:300])

    check()
