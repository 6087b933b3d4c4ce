"""Statements kept by query shape: the second request of a shape builds no SQL, a query sends
only the SELECTs it needs, and a statement built for one user's projects never serves another's.

Statements are counted with SQLAlchemy's ``before_cursor_execute`` event on the backend's
engine, builds with the reader's statement cache; on both databases.
"""

import contextlib
import datetime
import time
import uuid

import pytest
import sqlalchemy as sa

from ftrack_like_api.exceptions import QueryError
from ftrack_like_api.query import ast, parse
from ftrack_like_api.server.engine.statements import StatementCache, shape

ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


@pytest.fixture(scope="module")
def studio(backend, call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    made = {}
    for name in ("near", "far"):
        project = call.create("Project", name=f"shapes_{name}", full_name=name, project_schema_id=schema)["id"]
        shot = call.create("Shot", name=f"{name}_sh010", parent_id=project)["id"]
        for task in ("comp", "anim"):
            call.create("Task", name=f"{name}_{task}", parent_id=shot, bid=2.0)
        made[name] = {"project": project, "shot": shot}
    call.create("User", username="shapes_free")
    backend.auth.grant("shapes_free", "shapes_near")
    return made


@contextlib.contextmanager
def selects(backend):
    """The SELECTs a block sends, but the acting user's (every batch reads who acts)."""
    sent = []

    def record(conn, cursor, statement, parameters, context, many):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "resource.username" not in statement:
            sent.append(statement)

    sa.event.listen(backend.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", record)


def names(rows):
    return sorted(row["name"] for row in rows)


def test_the_values_of_a_text_go_into_slots():
    query, values = shape(f'select name from Task where parent_id is {ID} and name in ("a\\"b", \'c\') limit 5')
    assert values == (ID, 'a"b', "c")
    assert query == parse("select name from Task where parent_id is :__v0 and name in (:__v1, :__v2) limit 5")
    assert shape("Task where bid > 1") == (parse("Task where bid > 1"), ())  # numbers stay in the shape


@pytest.mark.parametrize("text", ['Task where name in "a"', f"Task where name is x{ID}", 'Task where name is "a"and'])
def test_a_text_whose_template_reads_otherwise_is_parsed_as_written(text):
    try:
        expected = parse(text)
    except QueryError as error:
        with pytest.raises(QueryError) as raised:
            shape(text)
        assert str(raised.value) == str(error)
    else:
        assert shape(text) == (expected, ())


def test_a_second_query_of_the_same_shape_builds_nothing(backend, call, studio):
    statements = backend.reader.statements
    text = 'select name, parent.name from Task where parent_id is {} and name is "{}" limit 10'
    assert names(call.query(text.format(studio["near"]["shot"], "near_comp"))) == ["near_comp"]
    built = statements.builds
    with selects(backend) as sent:
        assert names(call.query(text.format(studio["far"]["shot"], "far_anim"))) == ["far_anim"]
    assert statements.builds == built
    assert len(sent) == 2  # the tasks, then their parents


def test_a_value_the_column_cannot_take_is_refused_by_a_kept_statement_too(backend, call, studio):
    assert len(call.query('select name from Task where bid > "1" and name like "near_%"')) == 2
    built = backend.reader.statements.builds
    error = call.error(
        {"action": "query", "expression": 'select name from Task where bid > "lots" and name like "near_%"'}
    )
    assert error["error_code"] == "invalid_query" and "Task.bid is a number" in error["content"], error
    assert backend.reader.statements.builds == built


def test_a_query_through_relations_sends_one_select(backend, call, studio):
    with selects(backend) as sent:
        assert names(call.query('select name from Task where parent.name is "near_sh010"')) == [
            "near_anim",
            "near_comp",
        ]
    assert len(sent) == 1
    # A page: the related keys are looked up first (the planner then sees how few rows match), for all relations at once.
    text = (
        'select name from Task where parent.name is "near_sh010" and project.name is "shapes_near" and bid > 1 limit 10'
    )
    with selects(backend) as sent:
        assert names(call.query(text)) == ["near_anim", "near_comp"]
    assert len(sent) == 2


def test_keys_are_looked_up_for_each_request(backend, call, studio):
    text = 'select name from Task where parent.name is "{}" limit 10'
    assert names(call.query(text.format("far_sh010"))) == ["far_anim", "far_comp"]
    built = backend.reader.statements.builds
    shot = call.create("Shot", name="far_sh020", parent_id=studio["far"]["project"])["id"]
    call.create("Task", name="far_light", parent_id=shot)
    assert names(call.query(text.format("far_sh020"))) == ["far_light"]
    assert backend.reader.statements.builds == built


def test_a_statement_for_one_users_projects_never_serves_another(backend, call, call_as, studio):
    text = 'select name from Task where name like "{}%" and parent.name like "%_sh010" limit 50'
    everyone = ["far_anim", "far_comp", "near_anim", "near_comp"]
    assert names(call.query(text.format(""))) == everyone
    built = backend.reader.statements.builds
    free = call_as("shapes_free")
    assert names(free.query(text.format("n"))) == ["near_anim", "near_comp"]  # the same shape: its own statement
    assert names(free.query(text.format("f"))) == []
    assert backend.reader.statements.builds == built + 1
    assert names(call.query(text.format("f"))) == ["far_anim", "far_comp"]
    assert backend.reader.statements.builds == built + 1


def test_the_cache_keeps_the_statements_used_last():
    cache = StatementCache(2)
    for key in "abc":
        cache.put(key, key)  # type: ignore[arg-type]
        cache.get("a")
    assert len(cache) == 2 and cache.get("a") == "a" and cache.get("b") is None
    with pytest.raises(ValueError):
        StatementCache(0)


def test_a_slot_stands_for_a_value_only():
    query, _ = shape(f"Task where id is {ID}")
    assert isinstance(query.where, ast.Comparison) and query.where.value == ast.Parameter("__v0")
    assert shape("Task where id is :__v0")[1] == ()  # a caller's own parameter is no slot
    assert uuid.UUID(ID)


# --- pages by key: a cursor's values are bound to statements kept by shape ------------------------


def page(call, expression, after=None):
    operation = {"action": "query", "expression": expression}
    if after is not None:
        operation["after"] = after
    answer = call(operation)[0]
    return [row["name"] for row in answer["data"]], answer["metadata"]["next"].get("after")


def test_a_cursor_page_kept_for_one_users_projects_never_serves_another(backend, call, call_as, studio):
    text = 'select name from Task where name like "{}%" and parent.name like "%_sh010" order by name limit 1'
    first, after = page(call, text.format(""))
    assert first == ["far_anim"]
    assert page(call, text.format(""), after)[0] == ["far_comp"]  # the statement after a cursor, for every project
    built = backend.reader.statements.builds
    free = call_as("shapes_free")  # sees shapes_near only
    assert page(free, text.format(""), after)[0] == ["near_anim"]
    assert backend.reader.statements.builds == built + 1  # its scope's own statement
    for round_ in range(2):  # the second time round, every statement is kept already
        assert page(free, text.format("near_c"), after)[0] == ["near_comp"]  # the same shape, another value
        assert page(free, text.format("far"), after)[0] == []
        assert page(call, text.format("near"), after)[0] == ["near_anim"]  # and back: the first scope's
        assert page(call, text.format(""), after)[0] == ["far_comp"]
        assert page(free, text.format(""), after)[0] == ["near_anim"]
        if round_:
            assert backend.reader.statements.builds == built
        built = backend.reader.statements.builds


def test_a_kept_cursor_statement_takes_each_requests_limit_and_values(backend, call, studio):
    text = 'select name from Task where name like "{}" order by name desc limit {}'
    names_, after = page(call, text.format("%_%", 1))
    assert names_ == ["near_comp"]
    assert page(call, text.format("%_%", 2), after)[0] == ["near_anim", "far_light"]
    assert page(call, text.format("%_%", 3), after)[0] == ["near_anim", "far_light", "far_comp"]
    assert page(call, text.format("near%", 2), after)[0] == ["near_anim"]  # a short page: the NULL names' segment too
    built = backend.reader.statements.builds
    assert page(call, text.format("%_%", 2), after)[0] == ["near_anim", "far_light"]  # each limit its own statement
    assert page(call, text.format("far%", 2), after)[0] == ["far_light", "far_comp"]  # another value: its rows
    assert page(call, text.format("near%", 2), after)[0] == ["near_anim"]
    assert page(call, text.format("%_%", 3), after)[0] == ["near_anim", "far_light", "far_comp"]
    assert backend.reader.statements.builds == built


def test_is_open_after_a_cursor_compares_with_the_time_of_each_request(backend, call, studio):
    project = studio["near"]["project"]

    def session(name, end):
        return call.create("ReviewSession", name=name, project_id=project,
                           end_date={"__type__": "datetime", "value": end})["id"]  # fmt: skip

    session("open_a", "2999-01-01T00:00:00+00:00")
    session("open_b", "2999-01-01T00:00:00+00:00")
    closing = session("open_c", "2999-01-01T00:00:00+00:00")
    text = f'select name, is_open from ReviewSession where project_id is {project} and name like "open_%" order by name limit 1'
    after = call({"action": "query", "expression": text})[0]["metadata"]["next"]["after"]
    second = call({"action": "query", "expression": text, "after": after})[0]  # builds the statement after a cursor
    assert [(r["name"], r["is_open"]) for r in second["data"]] == [("open_b", True)]
    last = {"action": "query", "expression": text, "after": second["metadata"]["next"]["after"]}
    assert [r["is_open"] for r in call(last)[0]["data"]] == [True]
    built = backend.reader.statements.builds
    # It ends now: later than when the statement was built, so a time kept with it would still say open.
    time.sleep(0.01)
    ended = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(milliseconds=1)
    call({"action": "update", "entity_type": "ReviewSession", "entity_key": [closing],
          "entity_data": {"end_date": {"__type__": "datetime", "value": ended.isoformat()}}})  # fmt: skip
    assert [(r["name"], r["is_open"]) for r in call(last)[0]["data"]] == [("open_c", False)]
    assert backend.reader.statements.builds == built


def test_a_change_reads_its_row_with_a_statement_built_once_for_who_changes_everything(backend, call, call_as, studio):
    """An update reads the stored row by a select built once per type (its keys bound); a user of some projects
    gets one built for theirs each time, which refuses the rows of the others."""
    tasks = {row["name"]: row["id"] for row in call.query('select name from Task where name like "%_comp"')}
    executed = []
    keep = lambda connection, clause, *rest: executed.append(clause) if isinstance(clause, sa.Select) else None  # noqa: E731
    update = lambda task, bid: {"action": "update", "entity_type": "Task", "entity_key": [task], "entity_data": {"bid": bid}}  # noqa: E731
    sa.event.listen(backend.engine, "before_execute", keep)
    try:
        call(update(tasks["near_comp"], 3.0))
        call(update(tasks["far_comp"], 4.0))
    finally:
        sa.event.remove(backend.engine, "before_execute", keep)
    rows = [clause for clause in executed if "context.bid" in str(clause) and "__key_id" in str(clause)]
    assert len(rows) == 2 and rows[0] is rows[1]
    assert [row["bid"] for row in call.query('select bid from Task where name like "%_comp" order by name')] == [4.0, 3.0]
    free = call_as("shapes_free")  # shapes_near's only
    free(update(tasks["near_comp"], 5.0))
    refused = free.error(update(tasks["far_comp"], 6.0))
    assert refused["error_code"] == "not_found"
    assert [row["bid"] for row in call.query('select bid from Task where name like "%_comp" order by name')] == [4.0, 5.0]
