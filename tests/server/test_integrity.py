"""The rules a project's tree keeps, checked once the whole batch is applied (ftrack's server refuses these too)."""

import uuid

import pytest


@pytest.fixture(scope="module")
def project(call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    made = call.create("Project", name=f"tree-{uuid.uuid4().hex[:6]}", full_name="tree", project_schema_id=schema)
    shot = call.create("Shot", name="sh010", parent_id=made["id"])
    task = call.create("Task", name="comp", parent_id=shot["id"])
    return {"id": made["id"], "name": made["name"], "schema": schema, "shot": shot["id"], "task": task["id"]}


def create(entity_type, **data):
    data.setdefault("id", str(uuid.uuid4()))
    return {"action": "create", "entity_type": entity_type, "entity_key": [data["id"]], "entity_data": data}


def update(entity_type, key, **data):
    return {"action": "update", "entity_type": entity_type, "entity_key": [key], "entity_data": data}


def count(call, entity_type):
    return call.query(f"select count(id) from {entity_type}")[0]["count_id"]


@pytest.mark.parametrize("operation, code, words", [
    (lambda p: create("Shot", name="orphan"), "missing_parent", "A Shot needs a parent"),
    (lambda p: create("Task", name="sub", parent_id=p["task"]), "bad_parent", "A Task cannot be under a Task"),
    (lambda p: create("Shot", name="  ", parent_id=p["id"]), "empty_name", "A Shot needs a name that is not empty"),
    (lambda p: create("Shot", parent_id=p["id"]), "empty_name", "needs a name"),
    (lambda p: create("Project", name=p["name"], full_name="again", project_schema_id=p["schema"]), "duplicate_name",
     "Another project is called"),
    (lambda p: update("Shot", p["shot"], name=""), "empty_name", "needs a name"),
    (lambda p: update("Task", p["task"], parent_id=None), "missing_parent", "needs a parent"),
], ids=["no parent", "task under task", "blank name", "no name", "project name taken", "renamed empty", "unparented"])  # fmt: skip
def test_the_tree_is_kept_and_the_batch_stores_nothing(call, project, operation, code, words):
    before = count(call, "Context")
    answer = call.error(create("Sequence", name="kept?", parent_id=project["id"]), operation(project))
    assert answer["error_code"] == code and words in answer["content"], answer
    assert answer["operation"]["index"] == 1 and answer["content"].startswith("Operation 1 (")
    assert count(call, "Context") == before
    assert call.query(f'select name from Shot where id is "{project["shot"]}"')[0]["name"] == "sh010"


def test_a_create_named_later_in_the_same_batch_is_fine(call, project):
    shot = create("Shot", parent_id=project["id"])  # no name yet: ftrack accepts the update naming it later
    call(shot, update("Shot", shot["entity_key"][0], name="sh020"))
    assert call.query(f'select name from Shot where id is "{shot["entity_key"][0]}"')[0]["name"] == "sh020"


def test_renaming_a_project_to_another_projects_name_is_refused(call, project):
    other = call.create("Project", name=f"other-{uuid.uuid4().hex[:6]}", full_name="o", project_schema_id=project["schema"])
    answer = call.error(update("Project", other["id"], name=project["name"]))
    assert answer["error_code"] == "duplicate_name" and answer["operation"]["index"] == 0


def test_an_api_user_that_is_no_user_is_refused_in_process(backend, call):
    before = count(call, "Note")
    answer = backend.execute([create("Note", content="who wrote this?")], "nobody")
    assert answer["error_code"] == "unknown_user" and "No user 'nobody'" in answer["content"], answer
    assert count(call, "Note") == before
