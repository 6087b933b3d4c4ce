"""The administrators' commands on users, roles and keys, by name: what ``ftrack-like user`` and ``key`` run.

The command line runs them in-process on a database, or sends them to a server's
``POST /admin`` (administrators only); either way through :func:`run`, which lets only
these through and answers JSON (times as ISO text).
"""

from __future__ import annotations

import datetime
import inspect
from typing import Any, Callable

from ...exceptions import ValidationError

__all__ = ["COMMANDS", "run"]


def _role_of(auth: Any, username: str) -> str:
    with auth.engine.connect() as connection:
        user_id = auth._require(connection, username)
    return str(auth.role(user_id))


#: Each command: what it does with the Authenticator and its arguments.
COMMANDS: dict[str, Callable[..., Any]] = {
    "role_of": _role_of,
    "roles_of": lambda auth, *usernames: {name: _role_of(auth, name) for name in usernames},
    "set_role": lambda auth, username, role: auth.set_role(username, role),
    "grant": lambda auth, username, project, role=None: auth.grant(username, project, role),
    "revoke_project": lambda auth, username, project: auth.revoke_project(username, project),
    "allow_all_projects": lambda auth, username: auth.allow_all_projects(username),
    "set_password": lambda auth, username, password: auth.set_password(username, password),
    "logout_everywhere": lambda auth, username: auth.logout_everywhere(username),
    "create_key": lambda auth, username, name: auth.create_key(username, name),
    "list_keys": lambda auth, username=None: auth.list_keys(username),
    "revoke_key": lambda auth, username, name: auth.revoke(username, name),
}


def run(auth: Any, command: str, arguments: list[Any]) -> Any:
    """Run ``command`` with ``arguments``; its answer as JSON holds it. ValidationError for anything else."""
    found = COMMANDS.get(command)
    if found is None:
        raise ValidationError(f"No administrators' command {command!r}: one of {', '.join(sorted(COMMANDS))}",
                              "bad_request")  # fmt: skip
    if not isinstance(arguments, list) or not all(isinstance(a, (str, type(None))) for a in arguments):
        raise ValidationError("The arguments of a command are a list of text", "bad_request")
    try:
        inspect.signature(found).bind(auth, *arguments)
    except TypeError:
        raise ValidationError(f"{command} does not take {len(arguments)} argument(s)", "bad_request") from None
    return _json(found(auth, *arguments))


def _json(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value
