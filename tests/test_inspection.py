"""Inspection: an entity's identity, primary key and state, asked of the entity, not its attributes."""

import uuid

import pytest

from ftrack_like_api import inspection
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import State

pytest.importorskip("sqlalchemy", reason="the embedded mode needs the server extra")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('inspection') / 'studio.db'}"
    with Session(server_url=url, api_user="admin") as session:
        session.create("Project", {"name": "inspected", "full_name": "Inspection tests",
                                   "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
        session.commit()
    return url


@pytest.fixture
def session(url):
    with Session(server_url=url, api_user="admin") as made:
        yield made


def test_identity_and_primary_key_are_the_keys_values(session):
    project = session.query("Project").one()
    assert inspection.identity(project) == ("Project", (project["id"],))
    assert inspection.primary_key(project) == {"id": project["id"]}
    metadata = session.create("Metadata", {"parent_id": project["id"], "parent_type": "Project", "key": "k", "value": "v"})
    assert inspection.identity(metadata) == ("Metadata", (project["id"], "k"))
    assert inspection.primary_key(metadata) == {"parent_id": project["id"], "key": "k"}
    assert session.identity_map.get(inspection.identity(metadata)) is metadata  # what the session knows it by


def test_state_follows_each_change_until_commit(session):
    project = session.query("Project").one()
    assert inspection.state(project) is State.UNCHANGED
    shot = session.create("Shot", {"name": f"sh{uuid.uuid4().hex[:6]}", "parent": project})
    assert inspection.state(shot) is State.CREATED
    shot["description"] = "changed after its create"
    assert inspection.state(shot) is State.CREATED  # the change folds into the create
    project["full_name"] = "changed"
    assert inspection.state(project) is State.MODIFIED
    session.commit()
    assert inspection.state(shot) is inspection.state(project) is State.UNCHANGED
    session.delete(shot)
    assert inspection.state(shot) is State.DELETED
    session.rollback()
    assert inspection.state(shot) is State.UNCHANGED


def test_state_is_a_lookup_not_a_walk_through_the_changes(session):
    project = session.query("Project").one()
    for i in range(50):
        session.create("Shot", {"name": f"many{i}", "parent": project})
    project["full_name"] = "one of many changes"
    operations = session.recorded_operations

    class NoWalk(list):
        def __iter__(self):
            raise AssertionError("the queue of changes was walked")

    queued = operations._operations
    operations._operations = NoWalk(queued)
    assert inspection.state(project) is State.MODIFIED
    assert inspection.state(session.created[0]) is State.CREATED  # created walks the index, not the queue
    operations._operations = queued
    session.rollback()
