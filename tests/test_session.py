"""The Session on a real backend: queries, identity, auto-populate, the unit of work, errors.

Its own logic, without a backend, is tested in test_session_client.py on MockTransport.
"""

import pathlib
import uuid

import pytest

from ftrack_like_api import (
    AttributeValueError,
    ImmutableAttributeError,
    MultipleResultsFoundError,
    NoResultFoundError,
    ServerError,
    UnknownAttributeError,
)
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import NOT_SET, State
from ftrack_like_api.transport import LocalTransport, MockTransport

pytest.importorskip("sqlalchemy", reason="the embedded mode needs the server extra")


class Recorded:
    """A session on the studio's database whose batches are recorded on the way (``batches``).

    Its transport is a MockTransport handing each batch to a real LocalTransport.
    """

    def __init__(self, url, **options):
        self.batches = []
        self._local = LocalTransport(url, "admin")
        self.session = Session(server_url=url, api_user="admin", transport=MockTransport(self._send), **options)

    def _send(self, batch):
        self.batches.append(batch)
        return self._local.handle(batch)

    def counting(self):
        """The batches sent from now on (the schemas load first)."""
        _ = self.session.types
        self.batches.clear()
        return self.batches

    def close(self):
        self.session.close()
        self._local.close()


@pytest.fixture(scope="module")
def studio(database):
    """A project with a sequence, 200 shots and a task on the first."""
    with Session(server_url=database, api_user="admin") as session:
        project = session.create("Project", {"name": f"p{uuid.uuid4().hex[:6]}", "full_name": "Session tests",
                                             "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
        sequence = session.create("Sequence", {"name": "sq010", "parent": project})
        shots = [session.create("Shot", {"name": f"sh{i:03d}", "parent": sequence}) for i in range(200)]
        session.create("Task", {"name": "comp", "parent": shots[0]})
        session.commit()
        return {"url": database, "project": project["id"], "sequence": sequence["id"]}


@pytest.fixture
def recorded(studio):
    made = Recorded(studio["url"])
    yield made
    made.close()


@pytest.fixture
def session(recorded):
    return recorded.session


def test_constructing_a_session_touches_nothing(tmp_path):
    path = pathlib.Path(tmp_path) / "lazy.db"
    session = Session(server_url=f"sqlite:///{path}", api_user="admin")
    assert not path.exists()
    assert session.query("Status").first() is not None
    assert path.exists()
    session.close()


def test_query_all_first_one_and_pages(session, recorded, studio):
    batches = recorded.counting()
    shots = session.query(f"Shot where parent_id is {studio['sequence']}", page_size=64).all()
    assert len(shots) == 200 and len(batches) == 4
    assert session.query(f'Shot where name is "sh007" and parent_id is {studio["sequence"]}').one()["name"] == "sh007"
    with pytest.raises(NoResultFoundError):
        session.query('Shot where name is "nope"').one()
    with pytest.raises(MultipleResultsFoundError):
        session.query(f"Shot where parent_id is {studio['sequence']}").one()
    assert session.query('Shot where name is "nope"').first() is None
    limited = session.query(f"Shot where parent_id is {studio['sequence']} order by name offset 10 limit 5", page_size=2)
    assert [s["name"] for s in limited] == ["sh010", "sh011", "sh012", "sh013", "sh014"]
    # The query's own limit holds: the newest of many is one() with "limit 1", and "limit 0" finds nothing.
    newest = session.query(f"Shot where parent_id is {studio['sequence']} order by name desc limit 1").one()
    assert newest["name"] == "sh199"
    assert session.query(f"Shot where parent_id is {studio['sequence']} limit 0").first() is None


def test_aggregates_come_back_as_rows(session, studio):
    rows = session.query(f"select count(id), status_id from Shot where parent_id is {studio['sequence']} group by status_id").all()
    not_started = session.query('Status where name is "Not started"').one()
    assert rows == [{"count_id": 200, "status_id": not_started["id"]}]
    assert session.query(f"select max(sort) from Shot where parent_id is {studio['sequence']}").one() == {"max_sort": 199}


def test_one_object_per_entity(session, studio):
    first = session.query('Shot where name is "sh001"').one()
    again = session.query(f"Shot where parent_id is {studio['sequence']}").all()
    assert any(shot is first for shot in again)
    assert session.get("Shot", first["id"]) is first


def test_reading_a_value_never_fetched_fetches_it_for_the_whole_answer_in_one_call(session, recorded, studio):
    shots = session.query(f"select name from Shot where parent_id is {studio['sequence']}").all()
    batches = recorded.counting()
    statuses = {shot["status"]["name"] for shot in shots}  # 200 shots: status, then status.name
    assert statuses == {"Not started"}
    assert len(batches) == 2


def test_without_auto_populate_a_value_never_fetched_is_not_set(session):
    shot = session.query("select name from Shot").first()
    with session.auto_populating(False):
        assert shot["sort"] is NOT_SET
    assert shot["sort"] is not NOT_SET


def test_create_and_change_then_commit_sends_one_batch_with_server_values_back(session, recorded, studio):
    shot = session.query('Shot where name is "sh002"').one()
    task = session.create("Task", {"name": "anim", "parent": shot})
    task["bid"] = 4.0
    task["description"] = "walk cycle"
    assert session.state(task) is State.CREATED and session.created == [task]
    batches = recorded.counting()
    session.commit()
    assert len(batches) == 1 and len(batches[0]) == 1
    assert batches[0][0]["entity_data"]["bid"] == 4.0
    assert session.state(task) is State.UNCHANGED
    assert task["status"]["name"] == "Not started" and task["project_id"] == studio["project"]
    with Session(server_url=studio["url"], api_user="admin") as other:
        assert other.get("Task", task["id"])["description"] == "walk cycle"


def test_a_refused_commit_keeps_every_change(session):
    shot = session.query('Shot where name is "sh003"').one()
    good = session.create("Task", {"name": "fx", "parent": shot})
    bad = session.create("Task", {"name": "broken", "parent_id": "no-such-parent"})
    with pytest.raises(ServerError) as raised:
        session.commit()
    assert raised.value.code == "missing_reference" and raised.value.operation["index"] == 1
    assert len(session.recorded_operations) == 2 and session.state(good) is State.CREATED
    bad["parent"] = shot
    session.commit()
    assert session.query(f"Task where id is {bad['id']}").one() is bad


def test_check_conflicts_sends_the_values_read_before_each_change(studio):
    recorded = Recorded(studio["url"], check_conflicts=True)
    with recorded.session as session:
        shot = session.query('select name from Shot where name is "sh150"').one()
        with session.auto_populating(False):
            shot["description"] = "never read"  # sent without an expected value
        shot["name"] = "sh150b"
        shot["parent"] = shot["parent"]  # a reference: expected by its key
        batches = recorded.counting()
        session.commit()
        sent = batches[0][0]
        assert sent["expected"] == {"name": "sh150", "parent": {"__entity_type__": "Sequence", "id": studio["sequence"]}}
        shot["name"] = "sh150"
        session.commit()
        assert batches[1][0]["expected"] == {"name": "sh150b"}  # the value as committed
    recorded.close()


def test_rollback_forgets_changes_and_created_entities(session):
    shot = session.query('Shot where name is "sh004"').one()
    name = shot["name"]
    shot["name"] = "renamed"
    created = session.create("Task", {"name": "temp", "parent": shot})
    assert shot["name"] == "renamed" and session.state(shot) is State.MODIFIED
    session.rollback()
    assert shot["name"] == name and len(session.recorded_operations) == 0
    assert session.get("Task", created["id"]) is None


def test_delete_removes_it_everywhere(session):
    shot = session.query('Shot where name is "sh005"').one()
    task = session.create("Task", {"name": "gone", "parent": shot})
    session.commit()
    session.delete(task)
    assert session.state(task) is State.DELETED
    session.commit()
    assert task.identity not in session.identity_map
    assert session.query(f"Task where id is {task['id']}").first() is None


def test_custom_attributes_and_metadata_by_key(session, studio):
    number = session.query('CustomAttributeType where name is "number"').one()
    session.create("CustomAttributeConfiguration", {"key": "fps", "entity_type": "task", "type": number,
                                                    "object_type_id": "11c137c0-ee7e-4f9c-91c5-8c77cec22b2c",
                                                    "default": 24})  # fmt: skip
    session.commit()
    task = session.query('Task where name is "comp"').first()
    assert task["custom_attributes"]["fps"] == 24
    task["custom_attributes"]["fps"] = 25
    shot = task["parent"]
    shot["metadata"]["vendor"] = "acme"
    session.commit()
    with Session(server_url=studio["url"], api_user="admin") as other:
        again = other.get("Task", task["id"])
        assert again["custom_attributes"]["fps"] == 25
        assert dict(other.get("Shot", shot["id"])["metadata"]) == {"vendor": "acme"}
        with pytest.raises(KeyError, match="has no custom_attributes entry 'nope'"):
            again["custom_attributes"]["nope"] = 1


def test_appending_to_a_collection_records_one_change(session):
    category = session.query("ListCategory").first()
    project = session.query("Project").first()
    listing = session.create("TypedContextList", {"name": "dailies", "category": category, "project": project})
    session.commit()
    shots = session.query("Shot").all()
    tasks = session.query("Task").all()
    before = len(session.recorded_operations)
    for task in tasks:
        listing["items"].append(task)
    assert len(session.recorded_operations) == before + 1
    session.commit()
    assert {t["id"] for t in listing["items"]} == {t["id"] for t in tasks}
    assert shots  # queried only to have more entities about


def test_bound_parameters_and_entities_as_values(session, studio):
    sequence = session.get("Sequence", studio["sequence"])
    shots = session.query("Shot where parent_id is :parent and name in :names", parent=sequence,
                          names=["sh001", 'sh"002']).all()  # fmt: skip
    assert [s["name"] for s in shots] == ["sh001"]


def test_mistakes_fail_where_they_are_made_and_say_what_would_be_right(session):
    task = session.query("Task").first()
    with pytest.raises(UnknownAttributeError, match="Task has no attribute 'nmae'; did you mean name"):
        task["nmae"]
    with pytest.raises(AttributeValueError, match=r"Task\.bid takes int or float, not str 'lots'"):
        task["bid"] = "lots"
    with pytest.raises(ImmutableAttributeError, match=r"Task\.id is immutable"):
        task["id"] = "x"
    with pytest.raises(ImmutableAttributeError, match=r"Task\.link is computed"):
        task["link"] = []
    with pytest.raises(AttributeValueError, match=r"Task\.parent takes a Context"):
        task["parent"] = session.query("Status").first()
    with pytest.raises(UnknownAttributeError, match="Unknown entity type 'Tsak'; did you mean Task"):
        session.create("Tsak")
    assert len(session.recorded_operations) == 0


def test_an_entity_shows_what_it_is_and_its_keys_are_its_attributes(session):
    task = session.query('Task where name is "comp"').first()
    assert repr(task).startswith("<Task 'comp' ") and repr(task).endswith("…>")
    assert "name" in task.keys() and "status" in task and len(task) == len(task.schema.attributes)
    assert isinstance(task, session.types["TypedContext"]) and isinstance(task, session.types["Context"])


def test_encode_and_decode(session):
    task = session.query("Task").first()
    text = session.encode({"task": task, "tasks": [task], "n": 1})
    assert '"__entity_type__": "Task"' in text
    assert session.decode(text)["task"] is task


def test_a_new_entitys_collections_start_empty(session):
    listing = session.create("TypedContextList", {"name": "new"})
    assert list(listing["items"]) == [] and dict(listing["custom_attributes"]) == {}
    listing["items"].append(session.query("Task").first())
    assert len(listing["items"]) == 1
    session.rollback()


def test_ensure_finds_or_creates_with_values_bound_and_commits_as_ftracks(session, studio):
    odd = 'it\'s "odd" and or'
    first = session.ensure("Location", {"name": odd, "label": "one"}, identifying_keys=["name"])
    assert session.state(first) is State.UNCHANGED  # created and committed
    twice = session.ensure("Location", {"name": odd, "label": "one"}, identifying_keys=["name"])
    assert twice is first  # a second ensure of the same data finds it: never a second entity
    again = session.ensure("Location", {"name": odd, "label": "two"}, identifying_keys=["name"])
    assert again is first and again["label"] == "two" and session.state(again) is State.UNCHANGED
    with Session(server_url=studio["url"], api_user="admin", schema_cache_path=False) as other:
        stored = other.query("select label from Location where name is :n", n=odd).all()
        assert [location["label"] for location in stored] == ["two"]
    with pytest.raises(ValueError, match="no value in data"):
        session.ensure("Location", {"name": "x"}, identifying_keys=["label"])


def test_the_formatter_shows_an_entity_and_what_it_refers_to(session):
    from ftrack_like_api.formatter import format

    task = session.query('select name, bid, parent.name from Task where name is "comp"').first()
    text = format(task, ["name", "bid", "parent"], recursive=True)
    lines = text.splitlines()
    assert lines[0] == repr(task)
    assert lines[1].split() == ["name", "'comp'"]
    assert "parent:" in text and "<Shot 'sh000'" in text
    assert "(not fetched)" not in format(task)


def test_a_second_session_over_the_same_file_cache_starts_warm(studio, tmp_path):
    from ftrack_like_api.cache import FileCache, LayeredCache, MemoryCache, SerialisedCache

    def file_cache(session):
        return LayeredCache([MemoryCache(), SerialisedCache(FileCache(tmp_path / "entities.sqlite"))])

    with Session(server_url=studio["url"], api_user="admin", cache=file_cache) as first:
        tasks = first.query("select name, bid, created_at from Task").all()
        known = {task["id"]: (task["name"], task["bid"], task["created_at"]) for task in tasks}
    recorded = Recorded(studio["url"], cache=file_cache)
    with recorded.session as second:
        calls = recorded.counting()
        for key, (name, bid, created) in known.items():
            task = second.get("Task", key)
            assert (task["name"], task["bid"], task["created_at"]) == (name, bid, created)
        assert calls == []  # every value came from the file
        task = second.get("Task", next(iter(known)))
        task["bid"] = 9.5
        second.commit()
    recorded.close()
    with Session(server_url=studio["url"], api_user="admin", cache=file_cache) as third:
        assert third.get("Task", task["id"])["bid"] == 9.5  # a commit keeps what it changed


def test_a_commit_keeps_only_what_it_changed_in_the_cache(studio):
    from ftrack_like_api.cache import MemoryCache

    class Counting(MemoryCache):
        def __init__(self):
            super().__init__()
            self.written = 0

        def update(self, other=(), /, **kwargs):
            self.written += len(dict(other, **kwargs))
            super().update(other, **kwargs)

    cache = Counting()
    with Session(server_url=studio["url"], api_user="admin", cache=cache) as session:
        shots = session.query("Shot").all()
        before = cache.written
        shots[0]["description"] = "hero"
        session.commit()
        assert len(shots) > 100 and cache.written - before == 1


def test_merge_brings_in_entities_of_another_session_or_wire_data(studio, session):
    with Session(server_url=studio["url"], api_user="admin") as other:
        theirs = other.query('select name, bid from Task where name is "comp"').first()
        ours = session.merge(theirs)
        assert ours is not theirs and ours.session is session and ours["name"] == "comp"
        assert session.merge(ours) is ours
    shot = session.merge({"__entity_type__": "Shot", "id": "not-on-the-server", "name": "from elsewhere"})
    assert shot["name"] == "from elsewhere" and session.merge([shot]) == [shot]


def test_session_authentication_for_plain_requests():
    import requests

    from ftrack_like_api import SessionAuthentication

    prepared = requests.Request("GET", "http://127.0.0.1/health", auth=SessionAuthentication("k3y", "jo")).prepare()
    assert prepared.headers["ftrack-api-key"] == "k3y" and prepared.headers["ftrack-user"] == "jo"
    assert "k3y" not in repr(SessionAuthentication("k3y", "jo"))
    with pytest.raises(ValueError):
        SessionAuthentication("", "jo")


def test_merging_never_overwrites_a_value_changed_here(studio, session):
    shot = session.query('select name, description from Shot where name is "sh009"').one()
    shot["description"] = "mine, not committed"
    with Session(server_url=studio["url"], api_user="admin") as other:
        theirs = other.query('Shot where name is "sh009"').one()
        theirs["description"] = "theirs, committed"
        other.commit()
    again = session.query('select description from Shot where name is "sh009"').one()
    assert again is shot and shot["description"] == "mine, not committed"
    session.rollback()
    assert shot["description"] == "theirs, committed"


def test_a_session_shared_between_threads(studio):
    import threading

    errors = []
    with Session(server_url=studio["url"], api_user="admin") as shared:
        _ = shared.types

        def read():
            try:
                for shot in shared.query(f"select name from Shot where parent_id is {studio['sequence']}", page_size=50):
                    assert shot["sort"] is not NOT_SET and shot["status"]["name"]
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

        def write(n):
            try:
                shot = shared.query('Shot where name is "sh010"').one()
                task = shared.create("Task", {"name": f"threaded{n}", "parent": shot})
                shared.commit()
                assert shared.state(task) is State.UNCHANGED
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=read) for _ in range(4)] + [threading.Thread(target=write, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        names = {t["name"] for t in shared.query('Task where name like "threaded%"')}
        assert names == {"threaded0", "threaded1"}


def test_a_large_commit_settles_in_one_pass_over_the_queue(session, monkeypatch):
    from ftrack_like_api.unit_of_work import Operations

    shot = session.query('Shot where name is "sh011"').one()
    for n in range(3000):
        session.create("Task", {"name": f"bulk{n}", "parent": shot})
    passes = []
    discard = Operations.discard
    monkeypatch.setattr(Operations, "discard", lambda self, identities: passes.append(1) or discard(self, identities))
    session.commit()
    assert passes == [1] and len(session.recorded_operations) == 0


def test_users_time_their_work_and_project_schemas_say_what_they_allow_as_ftracks_client(studio):
    """The methods ftrack's client gives User and ProjectSchema, so scripts written for it run as they are."""
    from ftrack_like_api.exceptions import NoResultFoundError, ServerError
    from ftrack_like_api.server.engine.seed import TASK_WORKFLOW, VERSION_WORKFLOW

    with Session(server_url=studio["url"], api_user="admin") as session:
        task = session.query('select type_id from Task where name is "comp"').first()
        me = session.query('User where username is "admin"').one()
        timer = me.start_timer(task, comment="keying", name="comp")
        assert timer["start"] is not None and session.state(timer) is State.UNCHANGED  # committed
        with pytest.raises(ServerError) as second:
            me.start_timer(task)  # one timer a user
        assert second.value.exception == "DuplicateEntryError"
        session.rollback()
        timelog = me.stop_timer()
        assert [timelog["comment"], timelog["name"], timelog["context_id"]] == ["keying", "comp", task["id"]]
        assert timelog["duration"] >= 0 and session.query("Timer where user_id is :u", u=me["id"]).all() == []
        with pytest.raises(NoResultFoundError):
            me.stop_timer()
        project_schema = session.get("Project", studio["project"])["project_schema"]
        assert [s["name"] for s in project_schema.get_statuses("Task", task["type_id"])] == TASK_WORKFLOW
        assert [s["name"] for s in project_schema.get_statuses("AssetVersion")] == VERSION_WORKFLOW
        assert "Generic" in [t["name"] for t in project_schema.get_types("Task")]
        assert [t["name"] for t in project_schema.get_types("Shot")] == ["Generic"]
        with pytest.raises(ValueError, match="not a kind of TypedContext"):
            project_schema.get_statuses("User")
