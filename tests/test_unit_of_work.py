"""The unit of work: operations in order, indexed by entity, folded into one batch."""

import datetime

import pytest
from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

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


class Ref:
    """Stands for an entity as a value: what the plan knows it by is its identity."""

    def __init__(self, kind, key):
        self.identity = (kind, (key,))


def by_key(value):
    return value.identity[1][0] if isinstance(value, Ref) else value


def test_a_reference_to_an_entity_created_later_goes_in_an_update_after_its_create():
    batch = queue(
        create("FileComponent", "c", name="main"),
        create("AssetVersion", "v"),
        update("FileComponent", "c", "version", Ref("AssetVersion", "v")),
        update("FileComponent", "c", "name", "beauty"),  # not a reference: folds into the create
        update("FileComponent", "c", "version", Ref("AssetVersion", "old")),  # the last write wins, in the update
    ).plan(by_key)
    assert [(op["action"], op["entity_key"]) for op in batch] == [("create", ["c"]), ("create", ["v"]), ("update", ["c"])]
    assert batch[0]["entity_data"] == {"__entity_type__": "FileComponent", "id": "c", "name": "beauty"}
    assert batch[2]["entity_data"] == {"version": "old"}
    version = Ref("AssetVersion", "v")
    earlier = queue(create("AssetVersion", "v"), create("FileComponent", "c"), update("FileComponent", "c", "version", version))
    assert [op["action"] for op in earlier.plan(by_key)] == ["create", "create"]  # made before: it folds
    gone = queue(create("FileComponent", "c"), create("AssetVersion", "v"), update("FileComponent", "c", "version", version),
                 delete("FileComponent", "c"))  # fmt: skip
    assert [op["entity_key"] for op in gone.plan(by_key)] == [["v"]]


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


# --- planning against a plain model ------------------------------------------------------------

#: The entities a machine works on: (type, key, on the server before it starts).
ENTITIES = [
    ("Task", {"id": "t1"}, True),
    ("Task", {"id": "t2"}, True),
    ("Task", {"id": "new"}, False),
    ("Shot", {"id": "t1"}, False),  # the same key value as a Task: another entity
    ("Metadata", {"parent_id": "t1", "key": "k"}, True),
]
ATTRIBUTES = ["name", "bid", "description"]
VALUES = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["a", "b"]))


def identity_of(entity_type, key):
    return (entity_type, tuple(key.values()))


class OperationsAgainstAModel(RuleBasedStateMachine):
    """What a session can record (create what does not exist, change or delete what does),
    pushed into Operations and into a model that keeps the batch as it goes, in dicts:

    - ``pending``: identity → the one entry the entity adds up to now;
    - ``settled``: (identity, entry) of entities deleted and then created again;
    - ``history``: identity → its operations, for ``state``.
    """

    def __init__(self):
        super().__init__()
        self.operations = Operations()
        self.exists = {identity_of(t, k): on_server for t, k, on_server in ENTITIES}
        self.keys = {identity_of(t, k): (t, k) for t, k, _ in ENTITIES}
        self.pending, self.settled, self.history = {}, [], {}
        self.pushed = 0  # places: only their order matters

    def push(self, identity, operation):
        self.operations.push(operation)
        self.history.setdefault(identity, []).append(operation)
        self.pushed += 1

    def entry(self, identity, action):
        return {"identity": identity, "action": action, "data": {}, "expected": {}, "place": self.pushed}

    def pick(self, data, existing):
        chosen = [identity for identity, exists in self.exists.items() if exists is existing]
        assume(chosen)
        return data.draw(st.sampled_from(chosen))

    @rule(data=st.data(), values=st.dictionaries(st.sampled_from(ATTRIBUTES), VALUES, max_size=2))
    def create(self, data, values):
        identity = self.pick(data, existing=False)
        if identity in self.pending:  # deleted here before: that delete goes first, as it was
            self.settled.append((identity, self.pending.pop(identity)))
        created = self.pending[identity] = self.entry(identity, "create")
        created["data"].update(values)
        self.push(identity, CreateEntityOperation(*self.keys[identity], values))
        self.exists[identity] = True

    @rule(data=st.data(), attribute=st.sampled_from(ATTRIBUTES), new=VALUES, remote=st.just(NOT_SET) | VALUES)
    def change(self, data, attribute, new, remote):
        identity = self.pick(data, existing=True)
        changed = self.pending.get(identity)
        if changed is None:
            changed = self.pending[identity] = self.entry(identity, "update")
        changed["data"][attribute] = new  # the last write wins
        if changed["action"] == "update":
            changed["expected"][attribute] = remote  # as read when this change was made
        self.push(identity, UpdateEntityOperation(*self.keys[identity], attribute, None, new, remote))

    @rule(data=st.data())
    def delete(self, data):
        identity = self.pick(data, existing=True)
        before = self.pending.pop(identity, None)
        if before is None or before["action"] != "create":  # created here: the server never hears of it
            self.pending[identity] = self.entry(identity, "delete")  # in the delete's place
        self.push(identity, DeleteEntityOperation(*self.keys[identity]))
        self.exists[identity] = False

    @rule(data=st.data())
    def commit_some(self, data):
        """A commit settled these entities: their operations are forgotten."""
        done = data.draw(st.lists(st.sampled_from(list(self.keys)), unique=True, max_size=3))
        self.operations.discard(done)
        for identity in done:
            self.pending.pop(identity, None)
            self.history.pop(identity, None)
        self.settled = [(identity, entry) for identity, entry in self.settled if identity not in done]

    def model_batch(self, expect):
        batch = []
        entries = sorted([entry for _, entry in self.settled] + list(self.pending.values()), key=lambda e: e["place"])
        for entry in entries:
            entity_type, key = self.keys[entry["identity"]]
            written = {"action": entry["action"], "entity_type": entity_type, "entity_key": list(key.values())}
            if entry["action"] == "create":
                written["entity_data"] = {"__entity_type__": entity_type, **key, **entry["data"]}
            elif entry["action"] == "update":
                written["entity_data"] = entry["data"]
                expected = {name: value for name, value in entry["expected"].items() if value is not NOT_SET}
                if expect and expected:
                    written["expected"] = expected
            batch.append(written)
        return batch

    @invariant()
    def the_plan_is_the_models(self):
        assert self.operations.plan() == self.model_batch(expect=False)
        assert self.operations.plan(expect=True) == self.model_batch(expect=True)

    @invariant()
    def state_and_pending_agree(self):
        for identity in self.keys:
            history = self.history.get(identity, [])
            if not history:
                state = State.UNCHANGED
            elif isinstance(history[-1], DeleteEntityOperation):
                state = State.DELETED
            elif isinstance(history[0], CreateEntityOperation):
                state = State.CREATED
            else:
                state = State.MODIFIED
            assert self.operations.state(identity) is state
            assert self.operations.for_entity(identity) == history
        assert self.operations.entities() == list(self.history)  # in the order of each one's first operation
        assert len(self.operations) == sum(map(len, self.history.values()))


# Bounded: 200 runs of 25 steps find what 1,000 would, in a few seconds.
OperationsAgainstAModel.TestCase.settings = settings(stateful_step_count=25, max_examples=min(settings().max_examples, 200))
test_planning_against_a_model = OperationsAgainstAModel.TestCase
