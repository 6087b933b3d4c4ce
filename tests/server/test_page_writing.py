"""How a page is written (server/engine/encoding.py, loading.py), on both databases: a query's own rows
in one pass, and each reference worked out once per distinct key, give what writing row by row gave.

ftrack's form writes an entity in full where the answer first meets it and as a reference after;
these tests hold the one-pass writing to that, for few and for many distinct references, and for a
reference to an entity the page's own rows hold.
"""

import uuid

import pytest
import sqlalchemy as sa

from ftrack_like_api.query import ast
from ftrack_like_api.server.engine.encoding import Registry, rows

SHOTS, PER_SHOT = 70, 2


@pytest.fixture(scope="module")
def project(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name="writing", full_name="Writing", project_schema_id=schema_id)["id"]
    statuses = [s["id"] for s in call.query("Status")][:3]
    operations = []
    for number in range(SHOTS):
        shot = str(uuid.uuid4())
        operations.append({"action": "create", "entity_type": "Shot", "entity_key": [shot],
                           "entity_data": {"id": shot, "name": f"sh{number:03d}", "parent_id": project}})  # fmt: skip
        for kind in range(PER_SHOT):
            task = {"id": str(uuid.uuid4()), "name": f"t{kind}", "parent_id": shot, "status_id": statuses[number % 3]}
            operations.append(
                {"action": "create", "entity_type": "Task", "entity_key": [task["id"]], "entity_data": task}
            )
    call(*operations)
    return project


@pytest.mark.parametrize(
    "type_name, projections",
    [("Task", ["name", "created_at", "status_id"]), ("TypedContext", ["name", "created_at"]), ("Status", ["name"])],
)
def test_a_querys_rows_in_one_pass_are_what_the_encoder_writes_row_by_row(backend, project, type_name, projections):
    reader = backend.reader
    entity_type = backend.schema[type_name]
    table = backend.storage.table(entity_type)
    tree = reader._tree(entity_type, [ast.Path.of(p) for p in projections], "test")
    with backend.engine.connect() as connection:
        index, found = rows(connection.execute(sa.select(*reader.encoding.columns(entity_type, table, tree))))
    assert len(found) > 1
    registry, again = Registry(), Registry()
    one_pass = reader.encoding.new_rows(entity_type, tree, registry, index, found)
    encode = reader.encoding.encoder(entity_type, tree, again, index)
    row_by_row = [encode(row)[0] for row in found]
    # The same entities, their fields in the same order (the same JSON), and the same ones noted.
    assert [list(e.items()) for e in one_pass] == [list(e.items()) for e in row_by_row]
    for entity in one_pass:
        table_name = backend.schema[entity["__entity_type__"]].table
        assert registry.table(table_name)[entity["id"]] is entity
        assert again.table(table_name)[entity["id"]] == entity


@pytest.mark.parametrize("path", ["status", "parent"])  # three statuses; 70 shots
def test_a_reference_is_in_full_where_the_answer_first_meets_it_and_a_reference_after(call, project, path):
    data = call.query(f"select name, {path}.name from Task where project_id is {project}")
    assert len(data) == SHOTS * PER_SHOT
    seen = set()
    for row in data:
        reference = row[path]
        if reference["id"] in seen:
            assert sorted(reference) == ["__entity_type__", "id"]
        else:
            assert "name" in reference
            seen.add(reference["id"])
    assert len(seen) == (3 if path == "status" else SHOTS)
    compact = call({"action": "query", "expression": f"select name, {path}.name from Task where project_id is {project}",
                    "compact": True})[0]  # fmt: skip
    included = compact["included"]
    assert len(included) == len(seen)
    assert [included[row[path]]["id"] for row in compact["data"]] == [row[path]["id"] for row in data]


def test_a_reference_to_a_row_of_the_page_is_a_reference_to_it(call, project):
    """The shots are rows of the page and the tasks' parents: each written in full once, as a row."""
    data = call.query(f"select name, parent.name from TypedContext where project_id is {project}")
    shots = {row["id"]: row for row in data if row["__entity_type__"] == "Shot"}
    tasks = [row for row in data if row["__entity_type__"] == "Task"]
    assert len(shots) == SHOTS and len(tasks) == SHOTS * PER_SHOT
    for task in tasks:
        assert sorted(task["parent"]) == ["__entity_type__", "id"] and task["parent"]["id"] in shots
    assert all(shot["name"].startswith("sh") for shot in shots.values())


def test_the_function_writing_a_row_is_made_once_per_shape(call, project):
    """Compiling it costs what writing a page of 100 rows does: a query of a shape seen before makes none."""
    from ftrack_like_api.server.engine import encoding

    expression = f"select name, status.name from Task where project_id is {project} limit 10"
    call.query(expression)
    made = encoding._builder.cache_info().misses
    call.query(expression.replace("limit 10", "limit 20"))
    call({"action": "query", "expression": expression, "compact": True})
    assert encoding._builder.cache_info().misses == made


@pytest.mark.parametrize("compact", [False, True])
def test_an_entity_that_is_a_row_and_a_reference_has_its_fields_in_the_order_rows_meet_it(call, project, compact):
    """A shot is a row of the page (with its own ``parent``) and the tasks' parent (with ``name``): its
    fields come in the order writing row by row gives them — its reference first if its row comes
    before the first task meeting it, its name first otherwise — so the answer's bytes are the same."""
    answer = call({"action": "query", "compact": compact,
                   "expression": f"select parent, parent.name from TypedContext where project_id is {project}"})[0]  # fmt: skip
    data, included = answer["data"], answer.get("included")
    where = {row["id"]: position for position, row in enumerate(data)}
    first_met = {}
    for position, row in enumerate(data):
        if row["__entity_type__"] == "Task":
            parent = included[row["parent"]]["id"] if compact else row["parent"]["id"]
            first_met.setdefault(parent, position)
    shots = [row for row in data if row["__entity_type__"] == "Shot"]
    assert len(shots) == SHOTS and set(first_met) == {shot["id"] for shot in shots}
    for shot in shots:
        expected = ["parent", "name"] if where[shot["id"]] < first_met[shot["id"]] else ["name", "parent"]
        assert list(shot)[-2:] == expected, list(shot)


def test_the_drivers_own_rows_are_read_on_postgresql_only(backend):
    """A bare fetch raises the driver's own error: on SQLite the statement runs as its rows are fetched, and a
    time limit stopping it there must come as SQLAlchemy's DBAPIError (the batch then answers "timeout")."""
    from ftrack_like_api.server.engine.encoding import _plain

    context = backend.storage.tables["context"]
    with backend.engine.connect() as connection:
        result = connection.execute(sa.select(context.c.name).limit(1))
        assert _plain(result) is (backend.engine.dialect.name == "postgresql")
        result.close()
