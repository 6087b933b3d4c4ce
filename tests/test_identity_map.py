"""The identity map: unchanged entities held weakly, changed ones until commit or rollback, one object per key."""

import gc
import uuid

import pytest

from ftrack_like_api.entity import EntityState
from ftrack_like_api.session import Session

pytest.importorskip("sqlalchemy", reason="the embedded mode needs the server extra")


@pytest.fixture(scope="module")
def studio(database):
    """A project with a sequence of 200 shots."""
    with Session(server_url=database, api_user="admin") as session:
        project = session.create("Project", {"name": f"p{uuid.uuid4().hex[:6]}", "full_name": "Identity map tests",
                                             "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
        sequence = session.create("Sequence", {"name": "sq010", "parent": project})
        for i in range(200):
            session.create("Shot", {"name": f"sh{i:03d}", "parent": sequence})
        session.commit()
        return {"url": database, "sequence": sequence["id"]}


@pytest.fixture
def session(studio):
    with Session(server_url=studio["url"], api_user="admin") as made:
        yield made


def one_shot(session, name="sh001"):
    return session.query(f'select name, description from Shot where name is "{name}"').one()


def test_an_unchanged_entity_dropped_by_the_user_leaves_the_map(session):
    shot = one_shot(session)
    identity, name = shot.identity, shot["name"]
    assert identity in session.identity_map
    del shot
    gc.collect()
    assert identity not in session.identity_map
    assert session.identity_map.get(identity) is None
    again = session.get("Shot", identity[1][0])  # fetched again: a new object, the same entity
    assert again["name"] == name and again.identity == identity


def test_walking_many_entities_and_keeping_none_leaves_the_map_empty(session, studio):
    names = [shot["name"] for shot in session.query(f"select name from Shot where parent_id is {studio['sequence']}", page_size=50)]
    assert len(names) == 200
    gc.collect()
    assert len(session.identity_map) == 0


@pytest.mark.parametrize("settle", ["commit", "rollback"])
def test_a_changed_entity_stays_until_commit_or_rollback(session, settle):
    shot = one_shot(session, {"commit": "sh002", "rollback": "sh005"}[settle])
    identity = shot.identity
    shot["description"] = f"changed, then {settle}"
    del shot
    gc.collect()
    kept = session.identity_map.get(identity)
    assert kept is not None and kept["description"] == f"changed, then {settle}"
    assert kept in session.modified
    del kept
    getattr(session, settle)()
    gc.collect()
    assert identity not in session.identity_map
    again = session.get("Shot", identity[1][0])
    assert (again["description"] == f"changed, then {settle}") is (settle == "commit")


def test_created_and_deleted_entities_stay_until_commit(session, studio):
    sequence = session.get("Sequence", studio["sequence"])
    created = session.create("Shot", {"name": "made here", "parent": sequence})
    doomed = one_shot(session, "sh199")
    session.delete(doomed)
    made, gone = created.identity, doomed.identity
    del created, doomed
    gc.collect()
    assert session.identity_map.get(made) is not None and session.identity_map.get(gone) is not None
    assert [e.identity for e in session.created] == [made] and [e.identity for e in session.deleted] == [gone]
    session.commit()
    gc.collect()
    assert made not in session.identity_map and gone not in session.identity_map
    assert session.get("Shot", gone[1][0]) is None
    assert session.get("Shot", made[1][0])["name"] == "made here"


def test_a_second_object_under_one_key_is_refused(session):
    shot = one_shot(session, "sh003")
    impostor = session.types["Shot"](session, {"id": shot["id"]})
    with pytest.raises(ValueError, match="second object"):
        session.identity_map.add(impostor)
    assert session.identity_map.get(shot.identity) is shot
    session.identity_map.add(shot)  # the same object again: nothing to refuse
    with pytest.raises(ValueError, match="exists in this session already"):
        session.create("Shot", {"id": shot["id"], "name": "twin", "parent": shot["parent"]})


def test_a_key_whose_entity_is_gone_takes_a_new_object(session):
    shot = one_shot(session, "sh004")
    identity = shot.identity
    del shot
    gc.collect()
    fresh = session.types["Shot"](session, {"id": identity[1][0]})
    session.identity_map.add(fresh)
    assert session.identity_map.get(identity) is fresh


def test_what_a_group_still_holds_is_populated_in_one_round_trip(session, studio):
    shots = session.query(f"select name from Shot where parent_id is {studio['sequence']}").all()
    kept = shots[::2]  # the other half is dropped: the group does not keep it alive
    del shots
    gc.collect()
    assert len(session.identity_map) == 100
    batches = []
    handle = session.transport.handle
    session.transport.handle = lambda batch: batches.append(batch) or handle(batch)
    assert kept[0]["sort"] is not None
    assert len(batches) == 1
    assert all("sort" in EntityState(shot).remote for shot in kept)
    assert len(session.identity_map) == 100


def test_dead_keys_are_swept_out(session, studio):
    walked = sum(1 for _ in session.query(f"select name from Shot where parent_id is {studio['sequence']}"))
    assert walked > 0
    gc.collect()
    shots = session.types["Shot"]
    assert len(session.identity_map) == 0
    assert sum(len(keys) for keys in session.identity_map._types.values()) == 0  # the keys went too
    assert not any(isinstance(entity, shots) for entity in session.identity_map)
