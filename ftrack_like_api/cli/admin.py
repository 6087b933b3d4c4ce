"""``ftrack-like init``, ``upgrade``, ``user …``, ``key …`` and ``attribute …``: a studio's administration.

``init`` and ``upgrade`` open the database named by ``--database``. ``user``, ``key`` and
``attribute`` act in the studio ``studio.py`` names: a server (as its administrator
signed in, or FTRACK_API_USER with a key: others are refused), or a database opened
here, as ``admin``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid
from typing import Any

from ..exceptions import Error
from .database import checked_url, execute, open_backend
from .studio import open_studio

__all__ = ["ATTRIBUTE_OWNERS", "ON_A_STUDIO", "add_commands"]



def init(options: argparse.Namespace) -> int:
    from ..server.engine.dialects import make_folder

    make_folder(options.database)  # a new studio's folder: init makes it (serve and the rest do not)
    with open_backend(options) as backend:
        users = execute(backend, [{"action": "query", "expression": "select username from User"}])[0]["data"]
    print(f"{options.database} is ready: {len(backend.schema.to_ftrack())} entity types, users {', '.join(u['username'] for u in users)}")
    return 0


def user_add(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        key = str(uuid.uuid4())
        data = {"id": key, "username": options.name, "first_name": options.first_name, "last_name": options.last_name,
                "email": options.email}  # fmt: skip
        studio.execute([{"action": "create", "entity_type": "User", "entity_key": [key],
                         "entity_data": {k: v for k, v in data.items() if v is not None}}])  # fmt: skip
        studio.command("set_role", options.name, options.role)
    print(f"user {options.name} added ({options.role})")
    return 0


def user_list(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        users = studio.execute([{"action": "query", "expression":
                                 "select username, first_name, last_name, email, is_active from User order by username"}])  # fmt: skip
        found = users[0]["data"]
        roles = studio.command("roles_of", *[user["username"] for user in found]) if found else {}
        for user in found:
            state = "active" if user["is_active"] else "disabled"
            print(f"{user['username']:20} {roles[user['username']]:10} {state:9} {user.get('email') or ''}")
    return 0


def user_disable(options: argparse.Namespace) -> int:
    _set_active(options.name, False, options)
    print(f"user {options.name} disabled: their keys and sign-in tokens no longer work")
    return 0


def user_enable(options: argparse.Namespace) -> int:
    _set_active(options.name, True, options)
    print(f"user {options.name} enabled: their keys work again; they sign in again (their sign-in tokens ended)")
    return 0


def _set_active(name: str, active: bool, options: argparse.Namespace) -> None:
    with open_studio(options) as studio:
        found = studio.execute([{"action": "query", "expression": "User where username is " + json.dumps(name)}])
        if not found[0]["data"]:
            raise Error(f"No user {name!r}")
        user = found[0]["data"][0]
        studio.execute([{"action": "update", "entity_type": "User", "entity_key": [user["id"]],
                         "entity_data": {"is_active": active}}])  # fmt: skip


def user_role(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        studio.command("set_role", options.name, options.role)
        shown = studio.command("role_of", options.name)
    print(f"user {options.name} is now {shown}")
    return 0


def user_grant(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        if options.all_projects:
            studio.command("allow_all_projects", options.name)
        else:
            studio.command("grant", options.name, options.project, options.role)
        shown = studio.command("role_of", options.name)
    print(f"user {options.name}: {shown}")
    return 0


def user_revoke(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        if not studio.command("revoke_project", options.name, options.project):
            raise Error(f"{options.name} had no grant on {options.project!r}")
        shown = studio.command("role_of", options.name)
    print(f"user {options.name}: {shown}")
    return 0


def user_password(options: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if options.password_stdin else getpass.getpass(f"Password for {options.name}: ")
    with open_studio(options) as studio:
        studio.command("set_password", options.name, password)
    print(f"password set for {options.name}: they sign in with `ftrack-like login SERVER --user {options.name}`")
    return 0


def user_logout_everywhere(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        count = studio.command("logout_everywhere", options.name)
    print(f"ended {count} sign-in token(s) of {options.name}: they sign in again (their API keys still work)")
    return 0


def key_create(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        live = [k for k in studio.command("list_keys", options.user) if k["name"] == options.name and not k["revoked_at"]]
        if live and not options.replace:
            made = live[0]["created_at"][:19]
            raise Error(f"{options.user} has a key named {options.name!r} already (made {made}Z): "
                        "revoke it, or add --replace to make a new one and revoke that one")  # fmt: skip
        if live:
            studio.command("revoke_key", options.user, options.name)
        secret = studio.command("create_key", options.user, options.name)
    print(f"API key {options.name!r} for {options.user} (shown once; keep it secret):")
    print(secret)
    return 0


#: What a custom attribute belongs to, as its configuration's ``entity_type`` says it.
ATTRIBUTE_OWNERS = {"task": "the TypedContext types (narrow with --object-type)", "show": "projects",
                    "assetversion": "versions", "asset": "assets", "user": "users", "list": "lists"}  # fmt: skip


def attribute_add(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        def one(expression: str, what: str) -> str:
            found = studio.execute([{"action": "query", "expression": expression}])[0]["data"]
            if len(found) != 1:
                raise Error(f"No {what}" if not found else f"Several {what}")
            return str(found[0]["id"])

        kind = one(f"CustomAttributeType where name is {json.dumps(options.type)}", f"custom attribute type {options.type!r}")
        data: dict[str, Any] = {"key": options.key, "label": options.label or options.key, "type_id": kind,
                                "entity_type": "context" if options.hierarchical else options.entity_type,
                                "is_hierarchical": options.hierarchical}  # fmt: skip
        if options.object_type:
            data["object_type_id"] = one(f"ObjectType where name is {json.dumps(options.object_type)}",
                                         f"object type {options.object_type!r}")  # fmt: skip
        if options.project:
            data["project_id"] = one(f"Project where name is {json.dumps(options.project)}", f"project {options.project!r}")
        if options.default is not None:
            try:
                data["default"] = json.loads(options.default)
            except ValueError:
                data["default"] = options.default  # plain text
        same = (f"CustomAttributeConfiguration where key is {json.dumps(options.key)} and entity_type is "
                f"{json.dumps(data['entity_type'])} and object_type_id is {json.dumps(data.get('object_type_id'))}")
        if studio.execute([{"action": "query", "expression": same.replace("is null", "is None")}])[0]["data"]:
            raise Error(f"A custom attribute {options.key!r} for the same kind of entity exists already")
        studio.execute([{"action": "create", "entity_type": "CustomAttributeConfiguration", "entity_data": data}])
    where = ("every context, inherited down the tree" if options.hierarchical else
             f"each {options.object_type}" if options.object_type else ATTRIBUTE_OWNERS[options.entity_type])  # fmt: skip
    print(f"custom attribute {options.key!r} ({options.type}) added for {where}")
    return 0


def attribute_list(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        rows, kinds = (answer["data"] for answer in studio.execute([
            {"action": "query", "expression": "select key, label, type_id, entity_type, object_type_id, project_id, "
                                              "default, is_hierarchical from CustomAttributeConfiguration "
                                              "order by entity_type, key"},
            {"action": "query", "expression": "select name from CustomAttributeType"},
        ]))  # fmt: skip
        names = {kind["id"]: kind["name"] for kind in kinds}  # by id: the wire sends a type met twice once
        for row in rows:
            default = json.dumps(row["default"])
            print(f"{row['key']:20} {names.get(row['type_id'], '?'):12} {row['entity_type']:13} default {default}")
    return 0


def key_list(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        for key in studio.command("list_keys", options.user):
            used = key["last_used_at"][:19] if key["last_used_at"] else "never used"
            state = "revoked" if key["revoked_at"] else "live"
            print(f"{key['username']:20} {key['name']:30} {state:8} made {key['created_at'][:10]}, {used}")
    return 0


def key_revoke(options: argparse.Namespace) -> int:
    with open_studio(options) as studio:
        count = studio.command("revoke_key", options.user, options.name)
        if not count:
            raise Error(f"{options.user} has no live key named {options.name!r}")
    print(f"revoked {count} key(s) named {options.name!r} of {options.user}")
    return 0


def upgrade(options: argparse.Namespace) -> int:
    from ..server.engine.upgrades import upgrade_database

    print("\n".join(upgrade_database(checked_url(options.database), sql=options.sql)))
    return 0


#: The commands that act in a studio, a server or a database (init and upgrade open the database itself).
ON_A_STUDIO = frozenset({
    user_add, user_list, user_disable, user_enable, user_role, user_grant, user_revoke, user_password,
    user_logout_everywhere, key_create, key_list, key_revoke, attribute_add, attribute_list,
})  # fmt: skip


def add_commands(command: Any, commands: Any) -> None:
    """Add ``init``, ``upgrade``, ``user``, ``key`` and ``attribute`` to the CLI's parser."""
    from ..symbol import CUSTOM_ATTRIBUTE_TYPES, ROLES  # not the server's: a client-only install has none

    command("init", init, "create and seed the database and the admin user (safe to run twice)")
    upgraded = command("upgrade", upgrade, "upgrade the database to this version's schema (back it up first; "
                       "serve runs only the additive upgrades by itself)")  # fmt: skip
    upgraded.add_argument("--sql", action="store_true", help="print the SQL the upgrade would run, and change nothing")
    users = commands.add_parser("user", help="add, list, disable and enable users; their roles, projects and "
                                "passwords").add_subparsers(dest="action", required=True)
    added = command("add", user_add, "add a user", users)
    added.add_argument("name")
    added.add_argument("--role", choices=ROLES, default="user")
    added.add_argument("--first-name")
    added.add_argument("--last-name")
    added.add_argument("--email")
    command("list", user_list, "list users", users)
    command("disable", user_disable, "disable a user (their keys stop working)", users).add_argument("name")
    command("enable", user_enable, "enable a disabled user again (their keys work again)", users).add_argument("name")
    roled = command("role", user_role, "give a user a role (admin, user, read-only) wherever they have access", users)
    roled.add_argument("name")
    roled.add_argument("role", choices=ROLES)
    granted = command("grant", user_grant, "restrict a user to the projects granted, this one among them", users)
    granted.add_argument("name")
    which = granted.add_mutually_exclusive_group(required=True)
    which.add_argument("--project", help="the project's name or id")
    which.add_argument("--all-projects", action="store_true", help="lift the restriction: every project again")
    granted.add_argument("--role", choices=ROLES, help="the role on that project (default: the user's role)")
    revoked_project = command("revoke", user_revoke, "take a project from a user's grants", users)
    revoked_project.add_argument("name")
    revoked_project.add_argument("--project", required=True, help="the project's name or id")
    passworded = command("password", user_password, "set a user's password (for signing in)", users)
    passworded.add_argument("name")
    passworded.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    command("logout-everywhere", user_logout_everywhere, "end every sign-in token of a user (a new password and "
            "disabling a user do too)", users).add_argument("name")  # fmt: skip
    keys = commands.add_parser("key", help="create, list and revoke API keys").add_subparsers(dest="action", required=True)
    created = command("create", key_create, "create an API key (printed alone on the last line)", keys)
    created.add_argument("--user", required=True)
    created.add_argument("--name", required=True, help="what uses it: a script, a tool, a person")
    created.add_argument("--replace", action="store_true", help="revoke the user's key of that name and make a new one")
    command("list", key_list, "list API keys (never the keys themselves)", keys).add_argument("--user")
    revoked = command("revoke", key_revoke, "revoke a user's key by name", keys)
    revoked.add_argument("--user", required=True)
    revoked.add_argument("--name", required=True)
    attributes = commands.add_parser("attribute", help="add and list custom attributes").add_subparsers(
        dest="action", required=True)  # fmt: skip
    added_attribute = command("add", attribute_add, "add a custom attribute (a CustomAttributeConfiguration)", attributes)
    added_attribute.add_argument("key", help="the key scripts use: task['custom_attributes'][KEY]")
    added_attribute.add_argument("--type", required=True, choices=CUSTOM_ATTRIBUTE_TYPES)
    added_attribute.add_argument("--entity-type", choices=sorted(ATTRIBUTE_OWNERS), default="task",
                                 help="what it belongs to (default task: the TypedContext types)")  # fmt: skip
    added_attribute.add_argument("--object-type", help="only this kind of context: Shot, Task, Sequence …")
    added_attribute.add_argument("--project", help="only in this project")
    added_attribute.add_argument("--label", help="what people read (default: the key)")
    added_attribute.add_argument("--default", help="the value until one is set (JSON: 24, true, \"text\"; or plain text)")
    added_attribute.add_argument("--hierarchical", action="store_true",
                                 help="on every context, its value inherited from the nearest ancestor that sets it")
    command("list", attribute_list, "list custom attributes", attributes)
