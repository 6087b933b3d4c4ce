"""ftrack's security role actions (its "Working with user security roles" example), for administrators."""

import pytest

from ftrack_like_api.server.protocols.ftrack.security_roles import register


@pytest.fixture(scope="module")
def studio(backend, call):
    register(backend)  # as create_app does
    schema_id = call.query("ProjectSchema")[0]["id"]
    ids = {"user": call.create("User", username="pm")["id"],
           "project": call.create("Project", name="roles-a", full_name="project1", project_schema_id=schema_id)["id"]}
    ids["other"] = call.create("Project", name="roles-b", full_name="project2", project_schema_id=schema_id)["id"]
    roles = {r["name"]: r["id"] for r in call.query("select name from SecurityRole")}
    ids["manager"], ids["user_role"] = roles["Project Manager"], roles["User"]
    call.create("Shot", name="sh010", parent_id=ids["project"])
    call.create("Shot", name="sh020", parent_id=ids["other"])
    return ids


def held(call, user):
    rows = call.query(f"select security_role.name, is_all_projects, user_security_role_projects.project.full_name "
                      f"from UserSecurityRole where user_id is {user}")  # fmt: skip
    return sorted((row["security_role"]["name"], row["is_all_projects"],
                   sorted(p["project"]["full_name"] for p in row["user_security_role_projects"])) for row in rows)  # fmt: skip


def test_a_role_is_added_granted_a_project_swapped_revoked_and_removed(call, call_as, studio):
    user, manager = studio["user"], studio["manager"]
    call({"action": "add_user_security_role", "user_id": user, "role_id": manager})
    assert held(call, user) == [("Project Manager", False, [])]
    call({"action": "grant_user_security_role_project", "user_id": user, "role_id": manager, "project_id": studio["project"]})
    assert held(call, user) == [("Project Manager", False, ["project1"])]
    # What the grant means: the user sees that project's shots, not the other's.
    assert [shot["name"] for shot in call_as("pm").query("select name from Shot")] == ["sh010"]
    call({"action": "update_user_security_role", "user_id": user, "role_id": manager, "new_role_id": studio["user_role"]})
    assert held(call, user) == [("User", False, ["project1"])]
    call({"action": "revoke_user_security_role_project", "user_id": user, "role_id": studio["user_role"],
          "project_id": studio["project"]})  # fmt: skip
    assert held(call, user) == [("User", False, [])]
    call({"action": "remove_user_security_role", "user_id": user, "role_id": studio["user_role"]})
    assert held(call, user) == []


def test_wrong_ids_and_other_users_are_refused_and_nothing_changes(call, call_as, studio):
    error = call.error({"action": "add_user_security_role", "user_id": studio["user"], "role_id": "no-such-role"})
    assert error["error_code"] == "not_found" and "No SecurityRole with id no-such-role" in error["content"]
    error = call.error({"action": "grant_user_security_role_project", "user_id": studio["user"],
                        "role_id": studio["manager"], "project_id": "nowhere"})  # fmt: skip
    assert error["error_code"] == "not_found" and "No Project with id nowhere" in error["content"]
    error = call_as("pm").error({"action": "add_user_security_role", "user_id": studio["user"], "role_id": studio["manager"]})
    assert error["error_code"] == "permission" and "administrators do" in error["content"]
    assert held(call, studio["user"]) == []
