"""The unit of work: operations in order, indexed by entity, folded into one batch."""

import datetime

import pytest

from ftrack_like_api.symbol import NOT_SET, State
from ftrack_like_api.unit_of_work import (
    CreateEntityOperation,
    DeleteEntityOperation,
    Operations,
    UpdateEntityOperation,
    chunked,
)


def create(kind, key, **data):
    return CreateEntityOperation(kind, {"id": key}, data)


def update(kind, key, attribute, new, old=None):
    return UpdateEntityOperation(kind, {"id": key}, attribute, old, new)


def delete(kind, key):
    return DeleteEntityOperation(kind, {"id": key})


def queue(*operations):
    recorded = Operations()
    for operation in operations:
        recorded.push(operation)
    return recorded


def test_updates_fold_into_the_create_and_the_last_write_wins():
    batch = queue(
        create("Shot", "s1", name="sh010"),
        update("Shot", "s1", "name", "sh020"),
        update("Shot", "s1", "description", "hero"),
        update("Shot", "s1", "name", "sh030"),
    ).plan()
    assert batch == [{"action": "create", "entity_type": "Shot", "entity_key": ["s1"],
                      "entity_data": {"__entity_type__": "Shot", "id": "s1", "name": "sh030", "description": "hero"}}]


def test_asked_to_an_update_names_the_server_values_it_replaces_as_read_at_the_last_change():
    operations = queue(
        UpdateEntityOperation("Task", {"id": "t1"}, "bid", 2.5, 3.5, 2.5),
        UpdateEntityOperation("Task", {"id": "t1"}, "name", "a", "b", NOT_SET),  # never read: nothing to expect
        UpdateEntityOperation("Task", {"id": "t1"}, "bid", 3.5, 5.5, 4.5),  # read again (4.5) before this change
        UpdateEntityOperation("Task", {"id": "t1"}, "description", None, "x", None),
        UpdateEntityOperation("Task", {"id": "t2"}, "name", "a", "b", NOT_SET),
        create("Shot", "s1", name="a"),
        UpdateEntityOperation("Shot", {"id": "s1"}, "name", "a", "b", NOT_SET),
    )
    batch = operations.plan(expect=True)
    assert batch[0]["expected"] == {"bid": 4.5, "description": None}
    assert "expected" not in batch[1] and "expected" not in batch[2]
    assert all("expected" not in operation for operation in operations.plan())  # ftrack's wire: off by default


def test_a_create_and_a_delete_cancel_out_with_everything_between():
    batch = queue(
        create("Shot", "s1", name="a"), update("Shot", "s1", "name", "b"), delete("Shot", "s1"),
        update("Task", "t1", "name", "kept"),
    ).plan()  # fmt: skip
    assert batch == [{"action": "update", "entity_type": "Task", "entity_key": ["t1"], "entity_data": {"name": "kept"}}]


def test_an_update_then_a_delete_sends_the_delete_only_in_its_place():
    batch = queue(update("Task", "t1", "name", "x"), create("Shot", "s1"), delete("Task", "t1")).plan()
    assert [(op["action"], op["entity_key"]) for op in batch] == [("create", ["s1"]), ("delete", ["t1"])]


def test_each_entity_keeps_the_place_of_its_first_operation():
    batch = queue(
        create("Sequence", "q"), create("Shot", "s", parent_id="q"), update("Sequence", "q", "name", "sq"),
        create("Task", "t", parent_id="s"),
    ).plan()  # fmt: skip
    assert [op["entity_key"] for op in batch] == [["q"], ["s"], ["t"]]
    assert batch[0]["entity_data"]["name"] == "sq"


def test_deleted_then_created_again_under_the_same_key():
    batch = queue(delete("Location", "l"), create("Location", "l", name="new")).plan()
    assert [op["action"] for op in batch] == ["delete", "create"]


def test_values_are_written_by_the_encoder_given():
    moment = datetime.datetime(2024, 5, 1, 8, tzinfo=datetime.timezone.utc)

    def encode(value):
        return {"__type__": "datetime", "value": value.isoformat()} if isinstance(value, datetime.datetime) else value

    batch = queue(update("Task", "t", "start_date", moment)).plan(encode)
    assert batch[0]["entity_data"]["start_date"] == {"__type__": "datetime", "value": "2024-05-01T08:00:00+00:00"}


def test_composite_keys():
    operation = CreateEntityOperation("Metadata", {"parent_id": "p", "key": "k"}, {"value": "v"})
    batch = queue(operation).plan()
    assert batch[0]["entity_key"] == ["p", "k"]
    assert batch[0]["entity_data"] == {"__entity_type__": "Metadata", "parent_id": "p", "key": "k", "value": "v"}


def test_state_and_pending_operations_come_from_the_index_not_a_scan():
    recorded = queue(create("Shot", "s"), update("Task", "t", "name", "x"), delete("Status", "st"))

    class NoScan(list):
        def __iter__(self):
            raise AssertionError("the queue was walked")

    recorded._operations = NoScan(recorded._operations)
    assert recorded.state(("Shot", ("s",))) is State.CREATED
    assert recorded.state(("Task", ("t",))) is State.MODIFIED
    assert recorded.state(("Status", ("st",))) is State.DELETED
    assert recorded.state(("Task", ("other",))) is State.UNCHANGED
    assert recorded.for_entity(("Task", ("t",))) == [update("Task", "t", "name", "x")]


def test_chunks_keep_the_order():
    batch = [{"n": n} for n in range(7)]
    assert chunked(batch, 3) == [[{"n": 0}, {"n": 1}, {"n": 2}], [{"n": 3}, {"n": 4}, {"n": 5}], [{"n": 6}]]
    assert chunked(batch, None) == [batch] and chunked([], 5) == []
    with pytest.raises(ValueError):
        chunked(batch, 0)


def test_a_planned_batch_is_what_the_backend_takes(database):
    pytest.importorskip("sqlalchemy")
    from ftrack_like_api.transport import LocalTransport

    with LocalTransport(database, "admin") as transport:
        schema_id = transport.handle([{"action": "query", "expression": "ProjectSchema"}])[0]["data"][0]["id"]
        recorded = queue(
            create("Project", "uow-p", name="uow", project_schema_id=schema_id),
            create("Shot", "uow-s", name="sh010", parent_id="uow-p"),
            update("Shot", "uow-s", "name", "sh020"),
            create("Task", "uow-t", name="gone", parent_id="uow-s"),
            delete("Task", "uow-t"),
        )
        results = transport.handle(recorded.plan())
        assert [r["action"] for r in results] == ["create", "create"]
        shots = transport.handle([{"action": "query", "expression": "select name from Shot where id is uow-s"}])
        assert [s["name"] for s in shots[0]["data"]] == ["sh020"]
