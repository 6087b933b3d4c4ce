"""Entities and their change-state (EntityState): server values, local values, commit and rollback."""

import uuid

import pytest

from ftrack_like_api import wire
from ftrack_like_api.entity import Collection, EntityState
from ftrack_like_api.entity.state import NO_LOCAL
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
