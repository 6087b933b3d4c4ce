"""Merge: server data into the session's entities, field by field, only the fields present."""

import datetime
import gc
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftrack_like_api.entity import EntityState
from ftrack_like_api.exceptions import TransportError
from ftrack_like_api.merge import _Answer
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import NOT_SET

pytest.importorskip("sqlalchemy", reason="the embedded mode needs the server extra")

UTC = datetime.timezone.utc


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """An embedded studio: merge is client work, the schemas are what it needs of the server."""
    return f"sqlite:///{tmp_path_factory.mktemp('merge') / 'studio.db'}"


@pytest.fixture
def session(url):
    with Session(server_url=url, api_user="admin") as made:
        _ = made.types  # the entity classes, built before the tests merge
        yield made


def task_data(key, **values):
    return {"__entity_type__": "Task", "id": key, **values}


def test_only_the_fields_present_are_merged_and_the_rest_stay_missing(session):
    key = str(uuid.uuid4())
    task = session.merge(task_data(key, name="comp"))
    state = EntityState(task)
    assert dict(state.remote) == {"id": key, "name": "comp"}
    assert state.missing("bid") and not state.missing("name")
    session.merge(task_data(key, bid=2.5))
    assert dict(state.remote) == {"id": key, "name": "comp", "bid": 2.5}


def test_one_object_per_key_however_often_it_comes(session):
    key = str(uuid.uuid4())
    first = session.merge(task_data(key, name="a"))
    assert session.merge(task_data(key, name="b")) is first and first["name"] == "b"


def test_values_changed_here_win_over_merged_ones_until_rollback(session):
    key = str(uuid.uuid4())
    task = session.merge(task_data(key, name="server", description="server"))
    task["name"] = "mine"
    session.merge(task_data(key, name="server, later"))
    assert task["name"] == "mine"
    assert EntityState(task).remote["name"] == "server, later"
    session.rollback()
    assert task["name"] == "server, later"


@pytest.mark.parametrize("text", ["2024-03-01T12:30:00", "2024-03-01T12:30:00Z", "2024-03-01T14:30:00+02:00"])
def test_datetimes_arrive_aware_in_utc(session, text):
    task = session.merge(task_data(str(uuid.uuid4()), start_date={"__type__": "datetime", "value": text}))
    assert EntityState(task).remote["start_date"] == datetime.datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


def test_references_and_collections_become_entities(session):
    shot, task = str(uuid.uuid4()), str(uuid.uuid4())
    merged = session.merge({"__entity_type__": "Shot", "id": shot, "name": "sh010",
                            "children": [task_data(task, name="comp", parent={"__entity_type__": "Shot", "id": shot})]})  # fmt: skip
    child = EntityState(merged).remote["children"][0]
    assert child is session.get("Task", task)
    assert EntityState(child).remote["parent"] is merged  # a bare reference to a known entity: that entity


def test_entities_of_one_answer_form_a_group_of_keys(session):
    keys = [str(uuid.uuid4()) for _ in range(3)]
    tasks = session.loader.merger.merge_all([task_data(key, name=f"t{n}") for n, key in enumerate(keys)])[0]
    groups = {id(EntityState(task).group) for task in tasks}
    assert len(groups) == 1 and EntityState(tasks[0]).group == keys
    assert session.loader.siblings(tasks[0]) == tasks
    del tasks[1]
    gc.collect()
    assert [t["id"] for t in session.loader.siblings(tasks[0])] == [keys[0], keys[2]]  # the dropped one is gone


def remote_values(entity):
    """What an entity holds from the server: its values, each entity among them by its identity."""
    def plain(value):
        if isinstance(value, tuple):
            return tuple(plain(item) for item in value)
        return value.identity if hasattr(value, "identity") else value

    return {name: plain(value) for name, value in EntityState(entity).remote.items()}


def test_a_page_merged_in_one_pass_holds_what_merging_its_rows_one_by_one_holds(url):
    """merge_all() merges runs of rows alike in one pass and hands the rest to merge(): a page
    mixing new entities, one the session holds (changed here, too), rows of other fields, an
    encoded datetime, a collection, nested and compact references, a row of another type with
    the same fields, and a row whose own reference brings it in first ends the same both ways."""
    shot, known, later = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    keys = [str(uuid.uuid4()) for _ in range(10)]
    stamp = {"__type__": "datetime", "value": "2024-03-01T12:30:00Z"}
    included = [{"__entity_type__": "Shot", "id": shot, "name": "sh010"}, {"__entity_type__": "Status", "id": "s1", "name": "WIP"}]
    page = [
        task_data(keys[0], name="a", parent=0, status=1),
        task_data(keys[1], name="b", parent=0, status=None),
        task_data(known, name="from the server", parent=0, status=1),  # held by the session: merged into
        task_data(keys[2], name="c", parent=0, status=1),
        {"name": "d", "__entity_type__": "Task", "id": keys[3], "parent": 0},  # other fields, other order
        task_data(keys[4], name="e", parent={"__entity_type__": "Shot", "id": later, "name": "sh020"}, status=1),
        task_data(keys[5], name="f", parent=0, status=1, start_date=stamp),
        {"__entity_type__": "Shot", "id": later, "name": "sh020, again", "children": [task_data(keys[0])]},
        task_data(keys[0], name="a, again", parent=0, status=1),  # the same entity twice in one page
        task_data(keys[6], name="g", parent=0, status=1),
        {"__entity_type__": "Shot", "id": keys[7], "name": "sh030", "parent": 0, "status": 1},  # the fields of a Task row
        task_data(keys[8], name="row", parent={"__entity_type__": "Shot", "id": keys[9], "name": "sh040",
                                               "children": [task_data(keys[8], name="from its shot")]}),  # fmt: skip
    ]
    held = []
    for one_pass in (True, False):
        with Session(server_url=url, api_user="admin") as session:
            merger = session.loader.merger
            task = session.merge(task_data(known, name="before", description="kept"))
            task["name"] = "changed here"
            held.append(task)
            if one_pass:
                merged = merger.merge_all(page, included=included)[0]
            else:  # each row by merge(), as the one pass does for rows it does not take itself
                answer = _Answer(None, included)
                merged = [merger.merge(row, answer) for row in page]
            assert merged[2] is task and task["name"] == "changed here"
            assert [entity.entity_type for entity in merged[-3:]] == ["Task", "Shot", "Task"]
            assert merged[-1]["parent"]["children"][0] is merged[-1] is session.get("Task", keys[8])
            held.append([(entity.identity, remote_values(entity)) for entity in merged])
    assert held[1] == held[3]
    assert dict(held[1])[("Task", (known,))]["description"] == "kept"


def listing_pages(shots, tasks, pages):
    """``pages`` answers of a listing of ``tasks`` tasks, each with its shot in full (``shots`` shots,
    the tasks of each spread over every page, as pages in the order of the tasks' ids have them)."""
    shot_keys = [str(uuid.uuid4()) for _ in range(shots)]
    rows = [task_data(str(uuid.uuid4()), name=f"t{n}", status_id=None,
                      parent={"__entity_type__": "Shot", "id": shot_keys[n % shots], "name": f"sh{n % shots}"})
            for n in range(tasks)]  # fmt: skip
    size = tasks // pages
    return [rows[start : start + size] for start in range(0, tasks, size)]


def test_a_listing_adds_three_tracked_objects_per_entity(session):
    """What the cyclic collector walks grows with what a listing keeps: per entity its object, its
    values and its weak reference in the identity map — nothing per shot for the listing's own
    bookkeeping (a shot written again on a later page is found without a tuple per entry)."""
    pages = listing_pages(shots=100, tasks=400, pages=2)
    gc.collect()
    before = len(gc.get_objects())
    listing: dict = {}
    tasks = [task for page in pages for task in session.loader.merger.merge_all(page, listing, touched=False)[0]]
    gc.collect()
    added = len(gc.get_objects()) - before
    assert len(tasks) == 400 and len({id(task["parent"]) for task in tasks}) == 100
    assert added <= 3 * (400 + 100) + 30, added  # 30: each answer's groups and shapes


def test_a_shot_known_from_an_earlier_page_is_not_merged_again_unless_its_fields_differ(session):
    pages = listing_pages(shots=10, tasks=40, pages=2)
    listing: dict = {}
    first = session.loader.merger.merge_all(pages[0], listing)[0]
    merge, merged = session.loader.merger.merge, []
    session.loader.merger.merge = lambda data, answer=None: merged.append(data["__entity_type__"]) or merge(data, answer)
    second = session.loader.merger.merge_all(pages[1], listing)[0]
    assert merged.count("Shot") == 0 and {id(t["parent"]) for t in second} == {id(t["parent"]) for t in first}
    wider = [{**row, "parent": {**row["parent"], "description": "d"}} for row in pages[1]]
    session.loader.merger.merge_all(wider, listing)
    assert merged.count("Shot") == 10 and second[0]["parent"]["description"] == "d"


def test_touched_can_be_left_out(session):
    page = listing_pages(shots=2, tasks=4, pages=1)[0]
    merged, touched = session.loader.merger.merge_all(page, touched=False)
    assert touched == [] and [t["id"] for t in merged] == [row["id"] for row in page]
    merged, touched = session.loader.merger.merge_all(page)
    assert {t["id"] for t in touched} == {row["id"] for row in page} | {row["parent"]["id"] for row in page}


def test_what_the_schemas_do_not_know_is_a_transport_error(session):
    with pytest.raises(TransportError, match="type 'Tsak'"):
        session.merge({"__entity_type__": "Tsak", "id": "x"})
    with pytest.raises(TransportError, match="without its key 'id'"):
        session.merge({"__entity_type__": "Task", "name": "keyless"})


def test_an_unknown_field_is_ignored(session):
    task = session.merge(task_data(str(uuid.uuid4()), not_an_attribute=1))
    assert "not_an_attribute" not in EntityState(task).remote
    assert EntityState(task).value("name") is NOT_SET


#: Partial answers for one task: any of these fields, or none.
answers = st.lists(
    st.fixed_dictionaries({}, optional={
        "name": st.text(max_size=4), "bid": st.floats(allow_nan=False, allow_infinity=False),
        "description": st.none() | st.text(max_size=4),
    }),
    max_size=5,
)  # fmt: skip
changes = st.fixed_dictionaries({}, optional={"name": st.text(max_size=4), "description": st.text(max_size=4)})


@given(answers=answers, changes=changes, where=st.integers(0, 5))
def test_merged_answers_add_up_field_by_field_and_never_overwrite_a_change(offline_session, answers, changes, where):
    session, key = offline_session, str(uuid.uuid4())
    task = session.merge(task_data(key))
    state, server = EntityState(task), {"id": key}
    try:
        for n, answer in enumerate(answers):
            if n == where:  # the changes come somewhere among the answers
                for name, value in changes.items():
                    task[name] = value
            assert session.merge(task_data(key, **answer)) is task
            server.update(answer)
            assert dict(state.remote) == server  # the last answer to bring a field wins, the rest stay
        with session.auto_populating(False):
            for name in ("name", "bid", "description"):
                local = changes.get(name, NOT_SET) if where < len(answers) else NOT_SET
                assert task[name] == (local if local is not NOT_SET else server.get(name, NOT_SET))
    finally:
        session.rollback()
    assert dict(state.local) == {}
