"""Project permissions: a user restricted to some projects sees and changes only those.

A studio of two projects, each with a sequence, a shot, a task, an asset with a version
and a component, a note, metadata and an assignment; ``free`` (a freelancer) is granted
the first only. Every way of reaching rows — a query, a path, a count, ``has``/``any``,
a subquery, ``in``, an order — must keep the second project out, on both databases, and
over HTTP as through the engine.
"""

import json

import pytest
import requests

from ftrack_like_api.server.app import create_app, serving

PROJECTS = ("open", "secret")


@pytest.fixture(scope="module")
def studio(backend, call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    free = call.create("User", username="free")["id"]
    other = call.create("User", username="other")["id"]
    made = {"free": free}
    for name in PROJECTS:
        project = call.create("Project", name=name, full_name=name, project_schema_id=schema)["id"]
        sequence = call.create("Sequence", name=f"{name}_sq", parent_id=project)["id"]
        shot = call.create("Shot", name=f"{name}_sh010", parent_id=sequence)["id"]
        task = call.create("Task", name=f"{name}_comp", parent_id=shot, bid=1.0)["id"]
        asset_type = call.query("AssetType limit 1")[0]["id"]
        asset = call.create("Asset", name=f"{name}_plate", context_id=shot, type_id=asset_type)["id"]
        version = call.create("AssetVersion", asset_id=asset, task_id=task)["id"]
        component = call.create("FileComponent", name=f"{name}_main", version_id=version)["id"]
        note = call.create("Note", content=f"{name} note", parent_id=task, parent_type="Task")["id"]
        call({"action": "create", "entity_type": "Metadata", "entity_key": [version, "secret"],
              "entity_data": {"parent_id": version, "key": "secret", "value": f"{name} metadata"}})  # fmt: skip
        call.create("Appointment", type="assignment", resource_id=other, context_id=task)
        made[name] = {"project": project, "shot": shot, "task": task, "asset": asset, "version": version,
                      "component": component, "note": note}  # fmt: skip
    backend.auth.grant("free", "open")
    return made


@pytest.fixture(scope="module")
def free(call_as, studio):
    return call_as("free")


def names(rows, attribute="name"):
    return sorted(row[attribute] for row in rows)


QUERIES = [
    ("select name from Project", "name", ["open"]),
    ("select name from Task", "name", ["open_comp"]),
    ("select name from TypedContext", "name", ["open_comp", "open_sh010", "open_sq"]),
    ("select name from Context", "name", ["open", "open_comp", "open_sh010", "open_sq"]),
    ('select name from Task where project.name is "secret"', "name", []),
    ('select name from Task where project.name in ("open", "secret")', "name", ["open_comp"]),
    ("select content from Note", "content", ["open note"]),
    ("select name from Component", "name", ["open_main"]),
    ("select value from Metadata", "value", ["open metadata"]),
    ("select name from Asset", "name", ["open_plate"]),
    ('select username from User where assignments any (context.name is "secret_comp")', "username", []),
    ('select username from User where assignments any (context.name is "open_comp")', "username", ["other"]),
    ('select name from Shot where children any (name is "secret_comp")', "name", []),
    ('select name from Task where parent_id in (select id from Shot where name is "secret_sh010")', "name", []),
]


@pytest.mark.parametrize("expression, attribute, expected", QUERIES)
def test_a_restricted_user_sees_only_their_projects(free, studio, expression, attribute, expected):
    assert names(free.query(expression), attribute) == expected


def test_paths_and_collections_stop_at_the_project(free, studio, call):
    other = call.query('select assignments.context.name from User where username is "other"')[0]
    assert sorted(a["context"]["name"] for a in other["assignments"]) == ["open_comp", "secret_comp"]  # admin sees both
    seen = free.query('select assignments.context.name from User where username is "other"')[0]
    assert [a["context"]["name"] for a in seen["assignments"]] == ["open_comp"]
    task = free.query("select parent.parent.name, project.name, ancestors.name, notes.content from Task")
    assert [t["parent"]["parent"]["name"] for t in task] == ["open_sq"]
    versions = free.query("select asset.name, components.name, metadata from AssetVersion")
    assert [v["asset"]["name"] for v in versions] == ["open_plate"]
    assert [c["name"] for c in versions[0]["components"]] == ["open_main"]


def test_counts_and_groups_count_what_is_seen(free, call, studio):
    assert free.query("select count(id) from Task")[0]["count_id"] == 1
    assert call.query("select count(id) from Task")[0]["count_id"] >= 2
    grouped = free.query("select count(id), project_id from Context group by project_id")
    assert [row["project_id"] for row in grouped] == [studio["open"]["project"]]


def test_rows_of_another_project_cannot_be_changed_or_even_found(free, studio):
    secret = studio["secret"]
    for operation in (
        {"action": "update", "entity_type": "Task", "entity_key": [secret["task"]], "entity_data": {"name": "x"}},
        {"action": "delete", "entity_type": "Task", "entity_key": [secret["task"]]},
        {"action": "update", "entity_type": "AssetVersion", "entity_key": [secret["version"]], "entity_data": {"comment": "x"}},
        {"action": "reset_remote", "entity_type": "Task", "entity_key": [secret["task"]], "reset_type": "bid"},
    ):  # fmt: skip
        answer = free.error(operation)
        assert answer["error_code"] == "not_found", answer  # the same answer as for a row that does not exist


@pytest.mark.parametrize("operation", [
    lambda s: {"action": "create", "entity_type": "Shot", "entity_data": {"name": "sneak", "parent_id": s["secret"]["project"]}},
    lambda s: {"action": "update", "entity_type": "Task", "entity_key": [s["open"]["task"]],
               "entity_data": {"parent_id": s["secret"]["shot"]}},  # refused as a move out of the project
    lambda s: {"action": "create", "entity_type": "Note", "entity_data": {"content": "x", "parent_id": s["secret"]["task"],
                                                                            "parent_type": "Task"}},
    lambda s: {"action": "create", "entity_type": "Project", "entity_data": {"name": "mine", "full_name": "mine",
               "project_schema_id": s["schema"]}},
    lambda s: {"action": "create", "entity_type": "Status", "entity_data": {"name": "Mine", "state_id": s["state"]}},
], ids=["create under it", "move into it", "note on it", "a project", "studio-wide"])  # fmt: skip
def test_writes_stay_inside_the_projects_granted(free, call, studio, operation):
    context = {**studio, "schema": call.query('ProjectSchema where name is "VFX"')[0]["id"],
               "state": call.query("State limit 1")[0]["id"]}  # fmt: skip
    before = call.query("select count(id) from Context")[0]["count_id"]
    answer = free.error({"action": "create", "entity_type": "Task", "entity_data": {
        "name": "kept?", "parent_id": studio["open"]["shot"]}}, operation(context))  # fmt: skip
    assert answer["exception"] in ("PermissionError", "ValidationError") and answer["operation"]["index"] == 1, answer
    assert answer["error_code"] in ("permission", "cross_project"), answer
    assert call.query("select count(id) from Context")[0]["count_id"] == before  # nothing of the batch stayed


def test_work_inside_the_project_goes_on(free, call, studio):
    open_ = studio["open"]
    made = free.create("Task", name="free_paint", parent_id=open_["shot"])
    free({"action": "update", "entity_type": "Task", "entity_key": [made["id"]], "entity_data": {"bid": 3.0}})
    free.create("Note", content="done", parent_id=open_["task"], parent_type="Task")
    free({"action": "delete", "entity_type": "Task", "entity_key": [made["id"]]})


def test_a_read_only_grant_shows_without_letting_change(backend, call_as, studio):
    backend.auth.grant("free", "secret", role="read-only")
    try:
        free = call_as("free")
        assert names(free.query("select name from Project")) == ["open", "secret"]
        answer = free.error({"action": "update", "entity_type": "Task", "entity_key": [studio["secret"]["task"]],
                             "entity_data": {"name": "x"}})  # fmt: skip
        assert answer["exception"] == "PermissionError" and "may see the Task" in answer["content"], answer
        free({"action": "update", "entity_type": "Task", "entity_key": [studio["open"]["task"]], "entity_data": {"bid": 2.0}})
    finally:
        backend.auth.revoke_project("free", "secret")


def test_revoking_the_last_project_leaves_nothing_and_all_projects_lifts_it(backend, call, call_as, studio):
    backend.auth.create_key("free", "unused")
    backend.auth.revoke_project("free", "open")
    try:
        assert call_as("free").query("select name from Project") == []
        assert call_as("free").query("select name from Task") == []
        backend.auth.allow_all_projects("free")
        assert names(call_as("free").query("select name from Project")) >= ["open", "secret"]
    finally:
        backend.auth.grant("free", "open")


def test_a_user_never_granted_a_project_sees_every_project(call_as, studio):
    assert {"open", "secret"} <= set(names(call_as("other").query("select name from Project")))


def test_over_http_as_the_freelancer(backend, studio):
    key = backend.auth.create_key("free", "http")
    with serving(create_app(backend)) as url:
        def ask(expression):
            response = requests.post(f"{url}/api", data=json.dumps([{"action": "query", "expression": expression}]),
                                     headers={"ftrack-user": "free", "ftrack-api-key": key, "ftrack-strict-api": "true"})
            assert response.status_code == 200, response.text
            return response.json()[0]["data"]

        assert names(ask("select name from Project")) == ["open"]
        assert ask('select name from Task where id is "' + studio["secret"]["task"] + '"') == []
        response = requests.post(f"{url}/api", data=json.dumps([{"action": "delete", "entity_type": "Task",
                                 "entity_key": [studio["secret"]["task"]]}]),
                                 headers={"ftrack-user": "free", "ftrack-api-key": key, "ftrack-strict-api": "true"})  # fmt: skip
        assert response.status_code == 400 and response.json()["error_code"] == "not_found"
