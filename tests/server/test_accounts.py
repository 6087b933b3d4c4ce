"""Accounts are an administrator's: what a normal user may and may not do to users, roles and keys.

Each probe is the one that took the admin account over (a user renamed ``admin`` away and
themself to ``admin``, and a worker that remembered names acted on the name), run over
a real HTTP server on both databases.
"""

import json
import uuid

import pytest
import requests


@pytest.fixture(scope="module")
def users(backend):
    """Ids and keys of ``admin``, ``jo`` and ``ann`` (normal users)."""
    made = {"admin": _user_id(backend, "admin")}
    for name in ("jo", "ann"):
        made[name] = str(uuid.uuid4())
        answer = backend.execute([{"action": "create", "entity_type": "User", "entity_key": [made[name]],
                                   "entity_data": {"id": made[name], "username": name, "email": f"{name}@studio"}}],
                                 "admin")  # fmt: skip
        assert isinstance(answer, list), answer
    keys = {name: backend.auth.create_key(name, "probe") for name in ("admin", "jo", "ann")}
    return made, keys


def _user_id(backend, name):
    with backend.engine.connect() as connection:
        return backend.auth.user_id(connection, name)


class Client:
    def __init__(self, server, username, key):
        self.server, self.username, self.key = server, username, key

    def send(self, *operations):
        response = requests.post(f"{self.server}/api", data=json.dumps(list(operations)), headers={
            "ftrack-user": self.username, "ftrack-api-key": self.key, "ftrack-strict-api": "true"})  # fmt: skip
        return response.status_code, response.json()

    def update(self, user_id, **data):
        return self.send({"action": "update", "entity_type": "User", "entity_key": [user_id], "entity_data": data})


@pytest.fixture
def jo(server, users):
    return Client(server, "jo", users[1]["jo"])


@pytest.fixture
def admin(server, users):
    return Client(server, "admin", users[1]["admin"])


def _refused(answer):
    status, body = answer
    assert status == 403, body
    assert body["exception"] == "PermissionError" and body["error_code"] == "permission", body
    return body["content"]


@pytest.mark.parametrize("change", [
    {"username": "admin_old"}, {"is_active": False}, {"email": "jo@evil"}, {"first_name": "Mallory"},
])  # fmt: skip
def test_a_user_changes_nobody_else(jo, users, backend, change):
    ids = users[0]
    for victim in ("admin", "ann"):
        assert "Only administrators change another User" in _refused(jo.update(ids[victim], **change))
    assert backend.execute([{"action": "query", "expression": "select username, is_active, email from User where "
                             f'id is "{ids["ann"]}"'}], "admin")[0]["data"][0]["email"] == "ann@studio"  # fmt: skip


def test_a_user_changes_their_own_profile_and_nothing_else(jo, users):
    me = users[0]["jo"]
    status, body = jo.update(me, first_name="Jo", last_name="Ng", email="jo@studio.example")
    assert status == 200, body
    for forbidden in ({"username": "admin"}, {"is_active": False}, {"user_type_id": str(uuid.uuid4())}):
        content = _refused(jo.update(me, **forbidden))
        assert f"{next(iter(forbidden))} is for administrators" in content
    reset = jo.send({"action": "reset_remote", "entity_type": "User", "entity_key": [users[0]["ann"]],
                     "reset_type": "is_active"})  # fmt: skip
    _refused(reset)


def test_only_admins_create_and_delete_users_and_groups(jo, users):
    made = str(uuid.uuid4())
    assert "Only administrators create a User" in _refused(jo.send(
        {"action": "create", "entity_type": "User", "entity_key": [made], "entity_data": {"id": made, "username": "x"}}))
    assert "Only administrators delete a User" in _refused(jo.send(
        {"action": "delete", "entity_type": "User", "entity_key": [users[0]["admin"]]}))
    _refused(jo.send({"action": "create", "entity_type": "Group", "entity_data": {"name": "admins"}}))


def test_roles_are_read_through_the_api_and_changed_by_no_one_there(jo, admin, users):
    status, body = jo.send({"action": "query", "expression":
                            'select security_role.name, is_all_projects from UserSecurityRole where user.username is "admin"'})  # fmt: skip
    assert status == 200 and body[0]["data"][0]["security_role"]["name"] == "Administrator"
    role = body[0]["data"][0]["security_role"]["id"]
    for client in (jo, admin):  # ShotGrid's rule: permission rules are never changed through the API
        content = _refused(client.send({"action": "create", "entity_type": "UserSecurityRole", "entity_data": {
            "user_id": users[0]["jo"], "security_role_id": role, "is_all_projects": True}}))  # fmt: skip
        assert "ftrack-like user role/grant/revoke" in content
        _refused(client.send({"action": "update", "entity_type": "SecurityRole", "entity_key": [role],
                              "entity_data": {"name": "User"}}))  # fmt: skip


def test_resetting_another_users_key_is_for_admins(jo, admin, users):
    status, body = jo.send({"action": "reset_remote", "entity_type": "User", "entity_key": [users[0]["ann"]],
                            "reset_type": "api_key"})  # fmt: skip
    assert status == 403 and "Only admins reset other people's API keys" in body["content"]
    status, body = admin.send({"action": "reset_remote", "entity_type": "User", "entity_key": [users[0]["ann"]],
                               "reset_type": "api_key"})  # fmt: skip
    assert status == 200 and isinstance(body[0]["data"]["api_key"], str)


def test_admins_manage_users_through_the_api(admin, backend):
    made = str(uuid.uuid4())
    status, body = admin.send({"action": "create", "entity_type": "User", "entity_key": [made],
                               "entity_data": {"id": made, "username": "temp"}})  # fmt: skip
    assert status == 200, body
    assert admin.update(made, username="temp2", is_active=False)[0] == 200
    assert admin.send({"action": "delete", "entity_type": "User", "entity_key": [made]})[0] == 200


def test_identity_is_the_user_id_not_a_remembered_name(server, backend, users):
    """The takeover: the worker has served ``admin``; then ``admin`` is renamed away and
    ``jo`` renamed to ``admin``. jo's key, now sent under the name ``admin``, must act as jo."""
    ids, keys = users
    admin = Client(server, "admin", keys["admin"])
    assert admin.send({"action": "query", "expression": "User limit 1"})[0] == 200  # a worker that knows "admin"
    try:
        assert admin.update(ids["admin"], username="admin_old")[0] == 200
        assert Client(server, "admin_old", keys["admin"]).update(ids["jo"], username="admin")[0] == 200
        jo = Client(server, "admin", keys["jo"])
        status, body = jo.send({"action": "reset_remote", "entity_type": "User", "entity_key": [ids["ann"]],
                                "reset_type": "api_key"})  # fmt: skip
        assert status == 403, body
        _refused(jo.update(ids["ann"], is_active=False))
        made = jo.send({"action": "create", "entity_type": "Note", "entity_data": {"content": "hello"}})
        assert made[0] == 200 and made[1][0]["data"]["user_id"] == ids["jo"]  # created by jo, under any name
    finally:
        old = Client(server, "admin_old", keys["admin"])
        old.update(ids["jo"], username="jo")
        old.update(ids["admin"], username="admin")


def test_a_rename_counts_at_once(server, backend, users):
    ids, keys = users
    admin = Client(server, "admin", keys["admin"])
    assert Client(server, "ann", keys["ann"]).send({"action": "query", "expression": "User limit 1"})[0] == 200
    assert admin.update(ids["ann"], username="anne")[0] == 200
    try:
        assert Client(server, "ann", keys["ann"]).send({"action": "query", "expression": "User limit 1"})[0] == 401
        status, body = Client(server, "anne", keys["ann"]).update(ids["ann"], first_name="Anne")
        assert status == 200, body
    finally:
        admin.update(ids["ann"], username="ann")


def test_roles_from_before_security_roles_move_over_once(fresh_database):
    """A database from the release before ftrack's role model kept roles in ``user_role``."""
    import sqlalchemy as sa

    from ftrack_like_api.server import Backend

    with Backend.from_url(fresh_database) as backend:
        viewer = str(uuid.uuid4())
        backend.execute([{"action": "create", "entity_type": "User", "entity_key": [viewer],
                          "entity_data": {"id": viewer, "username": "viewer"}}], "admin")  # fmt: skip
        admin = _user_id(backend, "admin")
        with backend.engine.begin() as connection:  # as that release left it (before versioned upgrades too)
            connection.execute(sa.text("DROP TABLE alembic_version"))
            connection.execute(sa.text("DELETE FROM user_security_role"))
            connection.execute(sa.text("DELETE FROM security_role"))
            connection.execute(sa.text("CREATE TABLE user_role (user_id TEXT PRIMARY KEY, role TEXT NOT NULL)"))
            connection.execute(sa.text("INSERT INTO user_role VALUES (:a, 'admin'), (:v, 'read-only')"), {"a": admin, "v": viewer})
    with Backend.from_url(fresh_database) as backend:
        assert backend.auth.role(admin) == "admin" and backend.auth.role(viewer) == "read-only"
        refused = backend.execute([{"action": "create", "entity_type": "Scope", "entity_data": {"name": "x"}}], "viewer")
        assert refused["error_code"] == "read_only"
        backend.auth.set_role("viewer", "user")
    with Backend.from_url(fresh_database) as backend:  # once: a later start does not bring the old role back
        assert backend.auth.role(viewer) == "user"


def test_the_command_line_gives_and_takes_projects(tmp_path, ftrack_like):
    import subprocess

    from ftrack_like_api.server import Backend

    database = f"sqlite:///{tmp_path / 'studio.db'}"

    def run(*arguments):
        done = subprocess.run([ftrack_like, *arguments, "--database", database], capture_output=True, text=True)
        return done.returncode, done.stdout + done.stderr

    with Backend.from_url(database) as backend:
        schema = backend.execute([{"action": "query", "expression": "ProjectSchema limit 1"}], "admin")[0]["data"][0]["id"]
        for name in ("feature", "trailer"):
            backend.execute([{"action": "create", "entity_type": "Project",
                              "entity_data": {"name": name, "full_name": name, "project_schema_id": schema}}], "admin")  # fmt: skip
    assert run("user", "add", "vendor")[0] == 0
    assert run("user", "grant", "vendor", "--project", "feature") == (0, "user vendor: user on feature\n")
    code, out = run("user", "grant", "vendor", "--project", "trailer", "--role", "read-only")
    assert code == 0 and out == "user vendor: read-only on trailer, user on feature\n"
    assert "read-only on trailer, user on feature" in run("user", "list")[1]
    with Backend.from_url(database) as backend:
        seen = backend.execute([{"action": "query", "expression": "select name from Project"}], "vendor")[0]["data"]
        assert sorted(p["name"] for p in seen) == ["feature", "trailer"]
    assert run("user", "revoke", "vendor", "--project", "trailer") == (0, "user vendor: user on feature\n")
    assert run("user", "revoke", "vendor", "--project", "trailer") == (1, "error: vendor had no grant on 'trailer'\n")
    assert run("user", "grant", "vendor", "--project", "nowhere") == (1, "error: No project 'nowhere'\n")
    assert run("user", "grant", "admin", "--project", "feature")[0] == 1  # administrators see everything
    assert run("user", "grant", "vendor", "--all-projects") == (0, "user vendor: user\n")
    assert run("user", "role", "vendor", "read-only") == (0, "user vendor is now read-only\n")
