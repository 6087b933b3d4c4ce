"""Entities and their change-state (EntityState): server values, local values, commit and rollback."""

import datetime
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftrack_like_api import wire
from ftrack_like_api.entity import Collection, EntityState
from ftrack_like_api.entity.state import NO_LOCAL
from ftrack_like_api.exceptions import AttributeValueError, ImmutableAttributeError
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import NOT_SET

pytest.importorskip("sqlalchemy", reason="the embedded mode needs the server extra")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('entity') / 'studio.db'}"


@pytest.fixture
def session(url):
    with Session(server_url=url, api_user="admin") as made:
        yield made


@pytest.fixture
def task(session):
    return session.merge({"__entity_type__": "Task", "id": str(uuid.uuid4()), "name": "server", "bid": 1.0})


def test_a_local_value_wins_on_read_and_the_servers_stays_apart(task):
    state = EntityState(task)
    assert not state.changed and state.local is NO_LOCAL  # one shared empty mapping until a change
    task["name"] = "mine"
    assert task["name"] == "mine" and state.value("name") == "mine"
    assert state.remote["name"] == "server" and dict(state.local) == {"name": "mine"}
    assert state.changed


def test_two_views_of_one_entity_see_one_state(task):
    EntityState(task).set_local("bid", 2.0)
    assert EntityState(task).local["bid"] == 2.0 and task["bid"] == 2.0


def test_commit_makes_the_local_values_the_servers(session, task):
    state = EntityState(task)
    state.set_local("name", "committed")
    other = session.merge({"__entity_type__": "Task", "id": str(uuid.uuid4())})
    state.set_local("incoming_links", Collection(task, "incoming_links", [other], local=True))
    state.commit()
    assert not state.changed
    assert state.remote["name"] == "committed"
    assert state.remote["incoming_links"] == (other,)  # a collection is kept as the tuple of its items


def test_rollback_forgets_the_local_values(task):
    state = EntityState(task)
    state.set_local("name", "gone")
    state.rollback()
    assert task["name"] == "server" and not state.changed


def test_merge_remote_never_touches_a_local_value(task):
    state = EntityState(task)
    task["name"] = "mine"
    state.merge_remote({"name": "server, later", "bid": 3.0})
    assert task["name"] == "mine" and task["bid"] == 3.0
    assert state.remote["name"] == "server, later"


def test_missing_is_neither_fetched_nor_set(session, task):
    state = EntityState(task)
    assert state.missing("description") and not state.missing("name")
    with session.auto_populating(False):
        assert task["description"] is NOT_SET
    state.set_local("description", "set here")
    assert not state.missing("description")


def test_an_entity_holds_its_state_in_slots_and_goes_on_the_wire_as_a_reference(task):
    assert not hasattr(task, "__dict__")
    assert wire.encode_value(task) == {"__entity_type__": "Task", "id": task["id"]}
    assert wire.encode_value([task]) == [{"__entity_type__": "Task", "id": task["id"]}]


# --- on ftrack's recorded schemas, no server ----------------------------------------------------


@pytest.fixture
def offline_task(offline_session):
    task = offline_session.merge({"__entity_type__": "Task", "id": str(uuid.uuid4()), "name": "server", "bid": 1.0})
    yield task
    offline_session.rollback()


@given(value=st.text() | st.booleans() | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(), st.integers()))
def test_a_value_of_the_wrong_type_is_refused_and_changes_nothing(offline_session, value):
    task = offline_session.merge({"__entity_type__": "Task", "id": str(uuid.uuid4()), "bid": 1.0})
    with pytest.raises(AttributeValueError, match=r"Task\.bid takes int or float"):
        task["bid"] = value
    assert task["bid"] == 1.0 and not EntityState(task).changed
    assert offline_session.recorded_operations.for_entity(task.identity) == []


@given(moment=st.datetimes(min_value=datetime.datetime(1900, 1, 2), max_value=datetime.datetime(2200, 1, 1)))
def test_a_naive_datetime_set_is_taken_as_utc_and_planned_as_the_wire_writes_it(offline_session, moment):
    task = offline_session.merge({"__entity_type__": "Task", "id": str(uuid.uuid4())})
    try:
        task["start_date"] = moment
        assert task["start_date"] == moment.replace(tzinfo=datetime.timezone.utc)
        planned = offline_session.recorded_operations.plan(wire.encode_value)
        assert planned[-1]["entity_data"]["start_date"] == {"__type__": "datetime", "value": moment.isoformat()}
    finally:
        offline_session.rollback()


def test_attributes_cannot_be_removed_and_a_deleted_entity_cannot_change(offline_session, offline_task):
    with pytest.raises(ImmutableAttributeError, match="set 'name' to None instead"):
        del offline_task["name"]
    assert offline_task["name"] == "server"
    offline_session.delete(offline_task)
    with pytest.raises(ImmutableAttributeError, match="is deleted in this session"):
        offline_task["name"] = "too late"
    assert [type(op).__name__ for op in offline_session.recorded_operations.for_entity(offline_task.identity)] == [
        "DeleteEntityOperation"
    ]


def test_an_entity_is_a_mapping_of_its_types_attributes_and_equal_only_to_itself(offline_session, offline_task):
    attributes = offline_session.types["Task"].schema.attributes
    assert list(offline_task) == list(attributes) and len(offline_task) == len(attributes)
    assert "bid" in offline_task and "nmae" not in offline_task
    twin = offline_session.types["Task"](offline_session, {"id": offline_task["id"]})  # never in the map
    assert twin != offline_task and len({twin, offline_task}) == 2


# --- how the values are stored ---------------------------------------------------------------------

FIELDS = ["name", "description", "bid", "priority_id", "status_id"]
VALUES = st.none() | st.text(max_size=4) | st.floats(allow_nan=False, allow_infinity=False)
STEPS = st.one_of(
    st.tuples(st.just("merge"), st.dictionaries(st.sampled_from(FIELDS), VALUES)),
    st.tuples(st.just("set"), st.sampled_from(FIELDS), VALUES),
    st.tuples(st.just("commit")),
    st.tuples(st.just("rollback")),
)


@given(steps=st.lists(STEPS, max_size=12))
def test_the_values_read_are_those_a_dict_of_server_values_and_one_of_local_values_would_give(offline_session, steps):
    key = str(uuid.uuid4())
    task = offline_session.merge({"__entity_type__": "Task", "id": key})
    state = EntityState(task)
    remote, local = {"id": key}, {}
    for step in steps:
        if step[0] == "merge":
            offline_session.merge({"__entity_type__": "Task", "id": key, **step[1]})
            remote.update(step[1])
        elif step[0] == "set":
            state.set_local(step[1], step[2])
            local[step[1]] = step[2]
        elif step[0] == "commit":
            state.commit()
            remote.update(local)
            local = {}
        else:
            state.rollback()
            local = {}
        assert dict(state.remote) == remote and dict(state.remote.items()) == remote and len(state.remote) == len(remote)
        assert dict(state.local) == local and state.changed == bool(local)
        with offline_session.auto_populating(False):
            for name in FIELDS:
                assert task[name] == {**remote, **local}.get(name, NOT_SET)
                assert state.missing(name) == (name not in remote and name not in local)


def test_the_entities_of_one_answer_share_one_shape_and_each_holds_one_tuple(offline_session):
    keys = [str(uuid.uuid4()) for _ in range(3)]
    answer = [{"__entity_type__": "Task", "id": key, "name": f"t{n}", "bid": 1.0} for n, key in enumerate(keys)]
    tasks, _ = offline_session.loader.merger.merge_all(answer)
    shapes = {id(EntityState(task).shape) for task in tasks}
    assert len(shapes) == 1 and EntityState(tasks[0]).shape.layout.names == ("id", "name", "bid")
    assert EntityState(tasks[0]).group == keys
    # A later answer with one more field widens the layout; the values merged before stay.
    offline_session.loader.merger.merge_all([{"__entity_type__": "Task", "id": keys[0], "description": "d"}])
    assert dict(EntityState(tasks[0]).remote) == {"id": keys[0], "name": "t0", "bid": 1.0, "description": "d"}
    assert EntityState(tasks[0]).group == [keys[0]]  # it belongs to the answer it came in last
    assert not hasattr(tasks[0], "__dict__")


@pytest.fixture(scope="module")
def studio_of_10000_tasks(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('memory') / 'studio.db'}"
    with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:
        project = session.create("Project", {"name": "memory", "project_schema": session.query("ProjectSchema").first()})
        shots = [session.create("Shot", {"name": f"sh{n:03d}", "parent": project}) for n in range(100)]
        for n in range(10_000):
            session.create("Task", {"name": f"task{n:05d}", "parent": shots[n % 100]})
        session.commit()
    return url


def test_a_session_holds_at_most_512_bytes_per_task_it_queried(studio_of_10000_tasks):
    """Everything the session keeps for each task of ``select name, status.name, created_at``:
    the entity, its values (the id, the name and the datetime themselves included), its
    identity map entry and its place in the answer's group. A dict of values per entity
    (the layout before) held 659 bytes a task here."""
    import gc
    import tracemalloc

    expression = "select name, status.name, created_at from Task"
    with Session(server_url=studio_of_10000_tasks, api_user="admin", schema_cache_path=False) as session:
        session.query(expression).first()  # schemas, classes, the statuses
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tasks = session.query(expression).all()
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert len(tasks) == 10_000 and all(task["status"]["name"] for task in tasks[:10])
        assert held / len(tasks) <= 512, f"{held / len(tasks):.0f} bytes per task"
