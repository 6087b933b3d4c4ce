"""Optimistic concurrency: an update's ``expected`` values, the conflict error, and Sessions racing."""

import json
import threading
import uuid

import pytest
import requests

from ftrack_like_api import ConflictError
from ftrack_like_api.session import Session


def new_id():
    return str(uuid.uuid4())


def update(entity_type, key, data, expected=None):
    operation = {"action": "update", "entity_type": entity_type, "entity_key": [key], "entity_data": data}
    if expected is not None:
        operation["expected"] = expected
    return operation


@pytest.fixture(scope="module")
def project(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    return call.create("Project", name=f"p{uuid.uuid4().hex[:6]}", full_name="Conflicts", project_schema_id=schema_id)


@pytest.fixture
def task(call, project):
    return call.create("Task", name="comp", parent_id=project["id"], bid=2.5)


# --- the wire -----------------------------------------------------------------------------------


def test_an_update_whose_expected_values_hold_is_carried_out(call, task):
    answer = call(update("Task", task["id"], {"bid": 3.5}, expected={"bid": 2.5, "name": "comp"}))
    assert answer[0]["data"]["bid"] == 3.5


def test_a_changed_value_is_a_conflict_naming_entity_attribute_and_both_values(call, task):
    call(update("Task", task["id"], {"bid": 4.0}))
    error = call.error(update("Task", task["id"], {"bid": 3.5}, expected={"bid": 2.5}))
    assert error["exception"] == "ValidationError" and error["error_code"] == "conflict"
    assert error["operation"] == {"index": 0, "action": "update", "entity_type": "Task", "entity_key": [task["id"]]}
    assert error["conflict"] == {"attribute": "bid", "expected": 2.5, "current": 4.0}
    assert "Task.bid changed meanwhile: expected 2.5, found 4.0" in error["content"]
    assert call.query(f"select bid from Task where id is {task['id']}")[0]["bid"] == 4.0


def test_values_are_compared_after_coercion_to_the_attributes_type(call, task):
    # 2.5 as text is the number 2.5; a datetime with an offset is the same moment in UTC.
    call(update("Task", task["id"], {"start_date": {"__type__": "datetime", "value": "2024-05-01T10:00:00+02:00"}}))
    moment = {"__type__": "datetime", "value": "2024-05-01T08:00:00Z"}
    call(update("Task", task["id"], {"bid": 3}, expected={"bid": "2.5", "start_date": moment}))


def test_an_update_through_a_base_type_checks_the_concrete_types_values(call, task):
    call(update("Context", task["id"], {"bid": 3.5}, expected={"bid": 2.5}))
    error = call.error(update("Context", task["id"], {"bid": 4.5}, expected={"bid": 2.5}))
    assert error["conflict"] == {"attribute": "bid", "expected": 2.5, "current": 3.5}


def test_a_reference_is_compared_by_its_key(call, project, task):
    other = call.create("Folder", name="elsewhere", parent_id=project["id"])
    parent = {"__entity_type__": "Project", "id": project["id"]}
    call(update("Task", task["id"], {"parent": {"__entity_type__": "Folder", "id": other["id"]}}, expected={"parent": parent}))
    error = call.error(update("Task", task["id"], {"parent": parent}, expected={"parent": parent}))
    assert error["error_code"] == "conflict"
    assert error["conflict"]["attribute"] == "parent"
    assert error["conflict"]["expected"]["id"] == project["id"] and error["conflict"]["current"]["id"] == other["id"]
    call(update("Task", task["id"], {"parent": parent}, expected={"parent": other["id"]}))  # a bare key will do


def test_null_expects_an_empty_value(call, task):
    call(update("Task", task["id"], {"description": "first"}, expected={"description": None}))
    error = call.error(update("Task", task["id"], {"description": "second"}, expected={"description": None}))
    assert error["conflict"] == {"attribute": "description", "expected": None, "current": "first"}
    assert "expected empty, found \"first\"" in error["content"]
    call(update("Task", task["id"], {"description": "second"}, expected={"thumbnail": None, "description": "first"}))


def test_a_batch_with_a_conflict_stores_nothing(call, project, task):
    folder = new_id()
    error = call.error(
        {"action": "create", "entity_type": "Folder", "entity_key": [folder],
         "entity_data": {"id": folder, "name": "never", "parent_id": project["id"]}},
        update("Task", task["id"], {"name": "renamed"}),
        update("Task", task["id"], {"bid": 9.0}, expected={"bid": 1.0}),
    )  # fmt: skip
    assert error["error_code"] == "conflict" and error["operation"]["index"] == 2
    assert call.query(f"Folder where id is {folder}") == []
    assert call.query(f"select name, bid from Task where id is {task['id']}")[0]["name"] == "comp"


def test_expected_values_that_cannot_be_checked_are_refused(call, task):
    cases = [
        ({"nmae": "comp"}, "unknown_attribute", "did you mean name?"),
        ({"children": []}, "unsupported", "plain attributes and references"),
        ({"bid": "lots"}, "wrong_type", "Task.bid takes"),
        ("bid", "bad_request", "expected must be an object"),
    ]
    for expected, code, words in cases:
        error = call.error(update("Task", task["id"], {"bid": 1.0}, expected=expected))
        assert error["error_code"] == code and words in error["content"], error


def test_without_expected_an_update_writes_blind_as_ftrack_does(call, task):
    call(update("Task", task["id"], {"bid": 7.0}))
    call(update("Task", task["id"], {"bid": 8.0}, expected={}))
    assert call.query(f"select bid from Task where id is {task['id']}")[0]["bid"] == 8.0


def test_a_conflict_over_http_is_409_in_strict_mode_and_200_otherwise(server, admin_key, task):
    batch = json.dumps([update("Task", task["id"], {"bid": 1.0}, expected={"bid": 0.5})])
    headers = {"ftrack-user": "admin", "ftrack-api-key": admin_key, "content-type": "application/json"}
    strict = requests.post(f"{server}/api", data=batch, headers={**headers, "ftrack-strict-api": "true"})
    lenient = requests.post(f"{server}/api", data=batch, headers=headers)
    assert strict.status_code == 409 and lenient.status_code == 200
    assert strict.json()["error_code"] == lenient.json()["error_code"] == "conflict"


# --- Sessions ---------------------------------------------------------------------------------


@pytest.fixture(params=["embedded", "http"])
def connect(request, database, server, admin_key):
    """Makes a Session on this module's database: embedded, or through the HTTP server."""
    if request.param == "embedded":
        return lambda **options: Session(server_url=database, api_user="admin", **options)
    return lambda **options: Session(server_url=server, api_user="admin", api_key=admin_key, **options)


def test_sixteen_sessions_incrementing_one_value_lose_no_increment(connect, task):
    clients = 16
    everyone_has_read = threading.Barrier(clients)
    conflicts, failures = [], []

    def increment():
        try:
            with connect(check_conflicts=True) as session:
                mine = session.get("Task", task["id"])
                session.populate(mine, "bid")
                everyone_has_read.wait(timeout=60)  # all read the same value: all but one commit must conflict
                for _ in range(100):
                    mine["bid"] = mine["bid"] + 1
                    try:
                        session.commit()
                        return
                    except ConflictError as conflict:
                        conflicts.append(conflict)
                        session.rollback()
                        session.populate(mine, "bid")
                failures.append("gave up after 100 conflicts")
        except Exception as error:  # noqa: BLE001 - the test reports it below
            failures.append(repr(error))

    threads = [threading.Thread(target=increment) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with connect() as session:
        assert session.query(f"select bid from Task where id is {task['id']}").one()["bid"] == 2.5 + clients
    assert len(conflicts) >= clients - 1  # the first round: one value read, one commit on it can pass
    assert {(c.entity_type, c.attribute) for c in conflicts} == {("Task", "bid")}


def test_without_check_conflicts_the_later_commit_overwrites_as_with_ftrack(connect, task):
    with connect() as first, connect() as second:
        mine, theirs = first.get("Task", task["id"]), second.get("Task", task["id"])
        mine["bid"], theirs["bid"] = mine["bid"] + 1, theirs["bid"] + 1
        second.commit()
        first.commit()  # blind: second's increment is lost, as ftrack's protocol has it
        assert first.query(f"select bid from Task where id is {task['id']}").one()["bid"] == 3.5


def test_a_conflict_keeps_the_change_for_a_retry_after_reading_again(connect, task):
    with connect(check_conflicts=True) as first, connect() as second:
        mine, theirs = first.get("Task", task["id"]), second.get("Task", task["id"])
        mine["bid"], mine["name"] = mine["bid"] + 1, "mine"
        theirs["bid"] = 10.0
        second.commit()
        with pytest.raises(ConflictError) as raised:
            first.commit()
        conflict = raised.value
        assert (conflict.entity_type, conflict.entity_key, conflict.attribute) == ("Task", [task["id"]], "bid")
        assert (conflict.expected, conflict.current) == (2.5, 10.0)
        assert "Task.bid changed meanwhile: expected 2.5, found 10.0" in str(conflict)
        assert mine["bid"] == 3.5 and mine["name"] == "mine" and first.modified == [mine]  # nothing lost here
        first.populate(mine, "bid")  # the server's value is read again; the change stays
        assert mine["bid"] == 3.5
        mine["bid"] = 11.0  # decided knowing the server's 10.0
        first.commit()
        assert second.query(f"select bid, name from Task where id is {task['id']}").one()["name"] == "mine"
        assert second.query(f"select bid from Task where id is {task['id']}").one()["bid"] == 11.0


@pytest.fixture(scope="module")
def fps(call):
    """A number custom attribute on tasks, 24 by default."""
    number = call.query('CustomAttributeType where name is "number"')[0]["id"]
    return call.create("CustomAttributeConfiguration", key="fps", entity_type="task", type_id=number,
                       object_type_id="11c137c0-ee7e-4f9c-91c5-8c77cec22b2c", default=24)  # fmt: skip


def test_a_custom_attribute_changed_meanwhile_is_a_conflict(connect, fps, task):
    with connect() as setting:
        setting.get("Task", task["id"])["custom_attributes"]["fps"] = 25  # stored from now on
        setting.commit()
    with connect(check_conflicts=True) as mine, connect() as theirs:
        ours = mine.get("Task", task["id"])["custom_attributes"]
        assert ours["fps"] == 25
        ours["fps"] = 30
        theirs.get("Task", task["id"])["custom_attributes"]["fps"] = 50
        theirs.commit()
        with pytest.raises(ConflictError) as raised:
            mine.commit()
        assert (raised.value.entity_type, raised.value.attribute) == ("ContextCustomAttributeValue", "value")
        assert (raised.value.expected, raised.value.current) == (25, 50)
        mine.rollback()
        assert mine.query(f"select custom_attributes from Task where id is {task['id']}").one()["custom_attributes"]["fps"] == 50
