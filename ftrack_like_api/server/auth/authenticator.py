"""Who may call the server: one object over keys, passwords, throttling and remembered answers.

Each job has its module — ``credentials.py`` (API keys, passwords, sign-in tokens),
``tokens.py`` (personal access tokens, signing out),
``throttle.py`` (failures per name and address), ``idempotency.py`` (a retried batch runs
once), ``tables.py`` (where they are kept) — and :class:`Authenticator` puts them
together over one database, with the command line's changes to users' roles and
projects (ftrack's ``SecurityRole`` model: ``permissions.py`` keeps it and applies it).
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from ..engine.storage import writing
from ...exceptions import ValidationError
from .credentials import ApiKeys, Passwords
from .idempotency import IdempotentAnswers
from .permissions import ROLES, Roles
from .throttle import Throttling
from .tokens import PersonalTokens

__all__ = ["Authenticator"]


class Authenticator(ApiKeys, Passwords, PersonalTokens, Throttling, IdempotentAnswers):
    """API keys, roles and remembered answers on one backend's database."""

    def __init__(self, engine: sa.Engine, tables: dict[str, sa.Table], users: sa.Table, roles: Roles) -> None:
        self.engine = engine
        self.keys = tables["api_key"]
        self.roles = roles
        self.answers = tables["idempotent_answer"]
        self.passwords = tables["user_password"]
        self.tokens = tables["auth_token"]
        self.personal_tokens = tables["personal_token"]
        self.failures = tables["auth_failure"]
        self.users = users
        self._remembered = 0
        # Built once: every request runs it, and building SQL costs more than running it.
        keys, failures = self.keys, self.failures
        found = (
            sa.select(keys.c.id, keys.c.secret_hash, keys.c.last_used_at, users.c.id.label("user"), keys.c.name)
            .join(users, users.c.id == keys.c.user_id)
            .where(keys.c.secret_hash == sa.bindparam("digest"), keys.c.revoked_at.is_(None),
                   users.c.username == sa.bindparam("username"), users.c.is_active.is_(True))
        )  # fmt: skip
        recent = (
            sa.select(sa.func.count())
            .where(failures.c.username == sa.bindparam("username"), failures.c.address == sa.bindparam("address"),
                   failures.c.at > sa.bindparam("since"))
            .scalar_subquery().label("failures")
        )  # fmt: skip
        self._find_key = found
        self._find_key_and_failures = found.add_columns(recent)

    # --- users and roles --------------------------------------------------------------------------

    def user_id(self, connection: sa.Connection, username: str) -> str | None:
        return connection.execute(
            sa.select(self.users.c.id).where(self.users.c.username == username, self.users.c.resource_type == "user")
        ).scalar()

    def role(self, user_id: str, connection: sa.Connection | None = None) -> str:
        """The user's role as the command line names it, with the projects it is restricted to."""
        with contextlib.nullcontext(connection) if connection is not None else self.engine.connect() as reading:
            return self.roles.role(reading, user_id)

    def set_role(self, username: str, role: str) -> None:
        """Give ``username`` ``role`` (``admin``, ``user``, ``read-only``) wherever they have access."""
        if role not in ROLES:
            raise ValidationError(f"A role is one of {', '.join(ROLES)}, not {role!r}", "bad_role")
        with writing(self.engine) as connection:
            self.roles.set_role(connection, self._require(connection, username), role)

    def grant(self, username: str, project: str, role: str | None = None) -> None:
        """Restrict ``username`` to the projects granted, ``project`` (a name or id) among them."""
        if role is not None and role not in ROLES:
            raise ValidationError(f"A role is one of {', '.join(ROLES)}, not {role!r}", "bad_role")
        with writing(self.engine) as connection:
            self.roles.grant(connection, self._require(connection, username), self._project(connection, project), role)

    def revoke_project(self, username: str, project: str) -> int:
        """Take ``project`` from ``username``'s grants; how many went."""
        with writing(self.engine) as connection:
            return self.roles.revoke(connection, self._require(connection, username), self._project(connection, project))

    def allow_all_projects(self, username: str) -> None:
        """Lift ``username``'s restriction to some projects."""
        with writing(self.engine) as connection:
            self.roles.allow_all(connection, self._require(connection, username))

    def _project(self, connection: sa.Connection, project: str) -> str:
        contexts = self.roles.contexts
        found = connection.execute(
            sa.select(contexts.c.id).where(contexts.c.context_type == "show",
                                           sa.or_(contexts.c.name == project, contexts.c.id == project))
        ).scalars().all()  # fmt: skip
        if len(found) != 1:
            raise ValidationError(f"No project {project!r}" if not found else f"Several projects are called {project!r}", "not_found")
        return str(found[0])

    def _require(self, connection: sa.Connection, username: str) -> str:
        user = self.user_id(connection, username)
        if user is None:
            raise ValidationError(f"No user {username!r}", "not_found")
        return user
