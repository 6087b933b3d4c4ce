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
