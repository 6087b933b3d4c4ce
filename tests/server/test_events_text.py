"""``ftrack.update`` payloads written as JSON text: what they cost in statements and what the text says.

The payload is written piece by piece (``server/events/json_text.py``) instead of built as
dicts and encoded; these tests hold it to what ``json.dumps`` would have written, and a
large batch to a handful of statements, on SQLite and PostgreSQL.
"""

import datetime
import decimal
import json
import uuid

import pytest
import sqlalchemy as sa

from ftrack_like_api.exceptions import ValidationError
from ftrack_like_api.server.events import json_text

NAIVE = datetime.datetime(2026, 12, 1, 18, 5, 30, 123456)


@pytest.mark.parametrize(("found", "expected"), [
    ("plain", "plain"), ('quote " backslash \\ %s tab\t', 'quote " backslash \\ %s tab\t'), ("ünï ✓ 𝄞", "ünï ✓ 𝄞"),
    (0, 0), (-(2**63), -(2**63)), (2.5, 2.5), (1e-300, 1e-300), (True, True), (False, False), (None, None),
    (NAIVE, "2026-12-01T18:05:30.123456+00:00"), (NAIVE.replace(microsecond=0), "2026-12-01T18:05:30+00:00"),
    (NAIVE.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=2))), "2026-12-01T18:05:30.123456+02:00"),
    (datetime.date(2026, 12, 1), "2026-12-01"), (decimal.Decimal("1.25"), 1.25),
    ({"a": [1, "b", None, NAIVE]}, {"a": [1, "b", None, NAIVE.isoformat()]}),
])  # fmt: skip
def test_a_value_reads_back_as_json_dumps_of_the_old_payload_would(found, expected):
    text = json_text.value(found)
    assert json.loads(text) == expected
    assert text.isascii(), "ASCII with escapes, as json.dumps writes by default"


@pytest.mark.parametrize("found", [float("nan"), float("inf"), object()])
def test_what_json_cannot_carry_is_a_bad_event(found):
    with pytest.raises(ValidationError) as raised:
        json_text.value(found)
    assert raised.value.code == "bad_event"


def test_adds_told_a_column_at_a_time_tell_every_value_set_and_leave_out_none():
    templates = json_text.AddTemplates()
    shown = {"name": "name", "status_id": "statusid", "sort%": "sort%", "description": "description"}
    names = ("name", "status_id", "sort%", "description")
    columns = [['one "1" %s', "two"], ["s", "s"], [1, 2], [None, "set"]]
    texts = templates.texts("Task", "task", shown, names, columns, ["a", "b"], ["ot", None], [',{"entityId":"p"}', ""],
                            ["p", None])  # fmt: skip
    first, second = (json.loads(text) for text in texts)
    assert first == {
        "action": "add", "entityId": "a", "entityType": "task", "entity_type": "Task",
        "keys": ["name", "statusid", "sort%"],
        "changes": {"name": {"old": None, "new": 'one "1" %s'}, "statusid": {"old": None, "new": "s"},
                    "sort%": {"old": None, "new": 1}},
        "objectTypeId": "ot",
        "parents": [{"entityId": "a", "entityType": "task", "entity_type": "Task", "parentId": "p"}, {"entityId": "p"}],
        "parentId": "p",
    }  # fmt: skip
    assert second["keys"] == ["name", "statusid", "sort%", "description"] and second["changes"]["description"]["new"] == "set"
    assert (second["objectTypeId"], second["parentId"], len(second["parents"])) == (None, None, 1)
    # All values set: one template over the whole column.
    texts = templates.texts("Task", "task", shown, names[:3], columns[:3], ["a", "b"], None, ["", ""], ["p", "p"])
    assert [json.loads(text)["changes"]["sort%"]["new"] for text in texts] == [1, 2]
    assert "objectTypeId" not in json.loads(texts[0])


def test_a_batch_of_10000_creates_appends_one_row_in_a_few_statements(backend, call):
    schema = call.query("ProjectSchema limit 1")[0]["id"]
    project = call.create("Project", name=f"many{uuid.uuid4().hex[:6]}", project_schema_id=schema)["id"]
    shot = call.create("Shot", name="sh", parent_id=project)["id"]
    statements: list[str] = []
    appending = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if appending:
            statements.append(statement)

    real = backend._append_updates

    def observed(batch, source):
        batch.flush()  # the batch's own inserts are not the events'
        appending.append(True)
        try:
            return real(batch, source)
        finally:
            appending.clear()

    backend._append_updates = observed
    sa.event.listen(backend.engine, "before_cursor_execute", count)
    try:
        before = backend.events.last()
        call(*[{"action": "create", "entity_type": "Task", "entity_key": [str(uuid.uuid4())],
                "entity_data": {"name": f"t{i}", "parent_id": shot}} for i in range(10_000)])  # fmt: skip
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", count)
        backend._append_updates = real
    inserts = [s for s in statements if "INSERT INTO event_log" in s]
    # The user's name, one query per level above the shot (the shot, its project), the insert;
    # PostgreSQL adds its lock (with whether it has lz4, once) and NOTIFY.
    assert len(inserts) == 1 and len(statements) <= 7, statements
    (event,) = backend.events.read(before)
    entities = event.data["entities"]
    assert len(entities) == 10_000 and event.project_id == project
    assert all(e["parents"][1:] == entities[0]["parents"][1:] for e in entities), "one chain above them all"
    assert [p["entityId"] for p in entities[0]["parents"][1:]] == [shot, project]
    assert len(set(event.data["parents"])) == len(event.data["parents"]) == 10_002


def test_on_postgresql_an_event_is_compressed_with_lz4_when_the_server_has_it(backend, call):
    if backend.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's TOAST compression")
    show = "SHOW default_toast_compression"
    with backend.engine.connect() as connection:
        has_lz4 = connection.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'").scalar()  # fmt: skip
        default = connection.exec_driver_sql(show).scalar()
    if not has_lz4:
        pytest.skip("this PostgreSQL has no lz4")
    shot = call.query("Shot limit 1")[0]["id"]
    call(*[{"action": "create", "entity_type": "Task", "entity_key": [str(uuid.uuid4())],
            "entity_data": {"name": f"lz{i}", "parent_id": shot}} for i in range(200)])  # fmt: skip
    table = backend.events.table
    with backend.engine.connect() as connection:
        compressed = connection.execute(
            sa.select(sa.func.pg_column_compression(table.c.data)).order_by(table.c.seq.desc()).limit(1)).scalar()  # fmt: skip
        assert compressed == "lz4"
        assert connection.exec_driver_sql(show).scalar() == default, "only the appending transaction changed it"


def test_a_column_writes_each_value_as_value_does_repeated_or_not():
    utc = NAIVE.replace(tzinfo=datetime.timezone.utc)
    paris = utc.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
    for found in (["a", "a", "b", 'q"'] * 3, [NAIVE] * 5 + [None], [utc, paris] * 3, [1, 1.0, True] * 2, [[1], {"a": 2}]):
        assert json_text.column(found) == [json_text.value(v) for v in found], found
