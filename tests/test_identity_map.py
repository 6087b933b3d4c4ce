"""The identity map: unchanged entities held weakly, changed ones until commit or rollback, one object per key."""

import gc
import uuid
import weakref

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ftrack_like_api.entity import EntityState
from ftrack_like_api.identity_map import IdentityMap
from ftrack_like_api.session import Session
from ftrack_like_api.transport import LocalTransport, MockTransport

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


def test_what_a_group_still_holds_is_populated_in_one_round_trip(studio):
    batches = []
    with LocalTransport(studio["url"], "admin") as local, Session(
        server_url=studio["url"], api_user="admin", transport=MockTransport(lambda batch: batches.append(batch) or local.handle(batch))
    ) as session:
        shots = session.query(f"select name from Shot where parent_id is {studio['sequence']}").all()
        kept = shots[::2]  # the other half is dropped: the group does not keep it alive
        del shots
        gc.collect()
        assert len(session.identity_map) == 100
        batches.clear()
        assert kept[0]["sort"] is not None
        assert len(batches) == 1 and [operation["action"] for operation in batches[0]] == ["query"]
        assert all("sort" in EntityState(shot).remote for shot in kept)
        assert len(session.identity_map) == 100


def test_dead_keys_are_not_counted_and_wait_for_a_sweep(session, studio):
    walked = sum(1 for _ in session.query(f"select name from Shot where parent_id is {studio['sequence']}"))
    assert walked > 0
    gc.collect()
    shots = session.types["Shot"]
    assert len(session.identity_map) == 0
    # The keys go at the next sweep, once the dead are many (see the next tests); len() only counts.
    assert 0 < sum(len(keys) for keys in session.identity_map._types.values()) <= walked + 10
    assert not any(isinstance(entity, shots) for entity in session.identity_map)


def test_keys_of_dropped_entities_are_swept_out_as_entities_are_added(session):
    shots, identity_map = session.types["Shot"], session.identity_map
    for _round in range(3):  # a listener that sees entities come and go, and never asks len()
        for _ in range(1000):
            identity_map.add(shots(session, {"id": str(uuid.uuid4())}))  # dropped at once: nobody holds it
    assert sum(len(keys) for keys in identity_map._types.values()) < 2000  # not the 3,000 keys it saw


def test_a_sweep_keeps_the_dicts_a_merge_holds(session):
    """A merge puts weak references straight into the dict of_type() gave, then calls grew(): a
    sweep in between (another put's) empties and refills that dict in place, so what the merge
    puts afterwards is still the map's."""
    shots, identity_map = session.types["Shot"], session.identity_map
    held = identity_map.of_type("Shot")
    kept = [shots(session, {"id": str(uuid.uuid4())}) for _ in range(10)]
    for entity in kept:
        identity_map.add(entity)
    for _ in range(3000):
        identity_map.add(shots(session, {"id": str(uuid.uuid4())}))  # dropped at once: swept out as they go
    assert identity_map.of_type("Shot") is held and len(held) < 2000
    late = shots(session, {"id": str(uuid.uuid4())})
    held[late["id"]] = weakref.ref(late, identity_map.died)
    identity_map.grew()
    assert identity_map.lookup("Shot", late["id"]) is late
    assert all(identity_map.lookup("Shot", entity["id"]) is entity for entity in kept)
    assert len(identity_map) == 11


def test_len_counts_without_changing_the_map(session):
    """len() may run in a thread while a merge puts keys into the dicts it holds: it only counts."""
    shots, identity_map = session.types["Shot"], session.identity_map
    kept = shots(session, {"id": str(uuid.uuid4())})
    identity_map.add(kept)
    for _ in range(5):
        identity_map.add(shots(session, {"id": str(uuid.uuid4())}))  # dropped at once
    held = identity_map.of_type("Shot")
    keys = len(held)
    assert len(identity_map) == 1 and identity_map.of_type("Shot") is held and len(held) == keys == 6


# --- against a plain model ---------------------------------------------------------------------

#: (entity type, primary key): one-column and composite keys.
KEYS = [("Task", {"id": "t1"}), ("Task", {"id": "t2"}), ("Shot", {"id": "t1"}), ("Metadata", {"parent_id": "t1", "key": "k"})]
IDENTITIES = st.sampled_from([(entity_type, tuple(key.values())) for entity_type, key in KEYS])


class IdentityMapAgainstAModel(RuleBasedStateMachine):
    """An IdentityMap, and what it should hold: ``known`` (the identities added and not
    discarded), ``user`` (identity → the object the caller still refers to) and ``held``
    (held strongly). An object is alive while the caller or the map's strong hold keeps it."""

    def __init__(self):
        super().__init__()
        self.session = self.offline_session
        self.map = IdentityMap()
        self.known, self.user, self.held = set(), {}, set()

    def alive(self, identity):
        return identity in self.known and (identity in self.user or identity in self.held)

    @rule(identity=IDENTITIES)
    def add_a_new_object(self, identity):
        entity_type, key = identity
        names = self.session.types[entity_type].schema.primary_key
        entity = self.session.types[entity_type](self.session, dict(zip(names, key)))
        if self.alive(identity):
            with pytest.raises(ValueError, match="second object"):
                self.map.add(entity)
            return
        self.map.add(entity)
        self.known.add(identity)
        self.user[identity] = entity

    @rule(identity=IDENTITIES)
    def add_the_same_object_again(self, identity):
        if identity in self.user and self.alive(identity):
            self.map.add(self.user[identity])

    @rule(identity=IDENTITIES)
    def the_caller_drops_it(self, identity):
        self.user.pop(identity, None)  # no cycles: freed at once unless the map holds it strongly

    @rule(identity=IDENTITIES)
    def hold(self, identity):
        if self.alive(identity):
            self.map.hold(self.map.get(identity))
            self.held.add(identity)

    @rule(identity=IDENTITIES)
    def release(self, identity):
        self.map.release(identity)
        self.held.discard(identity)

    @rule(identity=IDENTITIES)
    def discard(self, identity):
        self.map.discard(identity)
        self.known.discard(identity)
        self.held.discard(identity)

    @rule()
    def clear(self):
        self.map.clear()
        self.known.clear()
        self.held.clear()

    @invariant()
    def the_map_holds_what_the_model_says(self):
        for entity_type, key in KEYS:
            identity = (entity_type, tuple(key.values()))
            found = self.map.get(identity)
            if not self.alive(identity):
                assert found is None and identity not in self.map
            else:
                assert found is not None and identity in self.map and found.identity == identity
                if identity in self.user:
                    assert found is self.user[identity]
        alive = [identity for identity in self.known if self.alive(identity)]
        assert sorted(entity.identity for entity in self.map) == sorted(alive)
        assert len(self.map) == len(alive)
        assert sorted(entity.identity for entity in self.map.held()) == sorted(self.held)


def test_the_identity_map_against_a_model(offline_session):
    machine = type("IdentityMapAgainstAModel", (IdentityMapAgainstAModel,), {"offline_session": offline_session})
    run_state_machine_as_test(machine, settings=settings(stateful_step_count=25, max_examples=min(settings().max_examples, 200)))
