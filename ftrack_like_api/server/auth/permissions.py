"""Who may see and change what: the acting user, their roles, and the projects they reach.

ftrack's model: a ``SecurityRole`` (``Administrator``, ``User``, ``Read-only``) is given to
a user by a ``UserSecurityRole``, either for every project (``is_all_projects``) or for
the projects its ``UserSecurityRoleProject`` rows list. A user with no role at all is a
``User`` on every project. ``ftrack-like user role`` / ``grant`` / ``revoke`` change
them; the API only reads them.

Each batch resolves its user afresh (:meth:`Permissions.principal`, one query, by user id
over HTTP): nothing about who someone is survives between requests, so a rename, a
disabled account or a new grant counts at once on every worker. Then:

- **Accounts** (:meth:`Permissions.check`): only administrators create, delete or change
  users and groups; a user changes their own ``first_name``, ``last_name``, ``email`` and
  thumbnail, and nothing else (not their name, their roles or whether they are active).
  Roles and project grants are never changed through the API.
- **Read-only**: a user whose every role is ``Read-only`` writes nothing.
- **Projects**: a user restricted to some projects sees only the rows of those projects
  and the studio-wide rows, in every query, path, count and ``has``/``any`` — the filter is
  compiled into the SQL (:meth:`.Compiler.visible`) — and changes only rows of projects
  where their role writes (:meth:`Permissions.check_written`, before the batch commits).
  Studio-wide data (statuses, types, schemas, locations …) is changed only by users whose
  writing role covers every project.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any, Iterable

import sqlalchemy as sa

from ...exceptions import ValidationError
from ... import symbol
from ...schema import Schema
from ..engine.compiler import Compiler
from ..engine.storage import Storage

__all__ = ["PermissionDenied", "Permissions", "Principal", "ROLES", "Roles", "principal_of", "security_role_id"]

#: The roles, as the command line names them, and their ``SecurityRole`` names.
ROLES = symbol.ROLES
ADMINISTRATOR, USER, READ_ONLY = ROLES["admin"], ROLES["user"], ROLES["read-only"]
#: ftrack's stock roles beside those, seeded for its examples: they write as "User" does.
STOCK_ROLES = ("Project Manager",)
#: What a user may change of their own account.
PROFILE = frozenset({"first_name", "last_name", "email", "thumbnail", "thumbnail_id"})
#: Types that hold roles and grants: read through the API, changed with the command line.
ROLE_TYPES = frozenset({"SecurityRole", "UserSecurityRole", "UserSecurityRoleProject"})
#: Types whose rows are accounts: administrators manage them.
ACCOUNT_TYPES = frozenset({"Resource"})
#: Studio-wide types a user restricted to some projects still writes (their own jobs, and the
#: components attached to them: ftrack's job example, and the outputs of ``encode_media``).
PERSONAL_TYPES = frozenset({"Job", "JobComponent"})
WRITE_ACTIONS = frozenset({"create", "update", "delete", "reset_remote"})
_NAMESPACE = uuid.UUID("0d5f8a8e-3c2b-4f7e-9a0e-6a1c4b1e2f31")


def security_role_id(name: str) -> str:
    """The fixed id of a seeded ``SecurityRole`` (every database agrees)."""
    return str(uuid.uuid5(_NAMESPACE, name))


class PermissionDenied(ValidationError):
    """An operation the acting user may not carry out (ftrack's ``PermissionError``)."""

    exception = "PermissionError"


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who runs a batch, as the database says now."""

    id: str | None
    username: str
    admin: bool = False
    #: Projects whose rows it sees; None: every project.
    readable: frozenset[str] | None = None
    #: Projects whose rows it changes; None: every project.
    writable: frozenset[str] | None = None
    #: Whether it writes at all (not when every role it has is read-only).
    writes: bool = True
    #: How the events it writes name it: first and last name, else its username (None: not read).
    name: str | None = None

    @property
    def studio(self) -> bool:
        """Whether it changes studio-wide data: a writing role on every project."""
        return self.admin or (self.writes and self.writable is None)


class Permissions:
    """The rules above, for one schema and storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.schema: Schema = compiler.schema
        self.storage: Storage = compiler.storage
        tables = self.storage.tables
        users, granted = tables["resource"], tables["user_security_role"]
        roles, projects = tables["security_role"], tables["user_security_role_project"]
        # Built once: every batch runs it.
        statement = (
            sa.select(users.c.id, users.c.username, roles.c.name.label("role"), granted.c.is_all_projects,
                      projects.c.project_id, users.c.first_name, users.c.last_name)
            .select_from(users.outerjoin(granted, granted.c.user_id == users.c.id)
                         .outerjoin(roles, roles.c.id == granted.c.security_role_id)
                         .outerjoin(projects, projects.c.user_security_role_id == granted.c.id))
            .where(users.c.resource_type == "user")
        )  # fmt: skip
        self._by_id = statement.where(users.c.id == sa.bindparam("user"))
        self._by_name = statement.where(users.c.username == sa.bindparam("user"))
        #: What the rules make of each type, worked out once.
        self._kinds: dict[str, str] = {}

    # --- who --------------------------------------------------------------------------------

    def principal(self, connection: sa.Connection, username: str, user_id: str | None = None) -> Principal:
        """The acting user by id (or by name, in-process), with their roles as stored now."""
        statement = self._by_id if user_id is not None else self._by_name
        rows = connection.execute(statement, {"user": user_id if user_id is not None else username}).all()
        if not rows:
            return Principal(None, username)
        found = principal_of(str(rows[0].id), str(rows[0].username), [(r.role, r.is_all_projects, r.project_id) for r in rows])
        first = rows[0]
        # Read here for the batch's events: one statement fewer for a batch that writes.
        name = " ".join(part for part in (first.first_name, first.last_name) if part) or found.username
        return dataclasses.replace(found, name=name)

    # --- what ---------------------------------------------------------------------------------

    def check(self, principal: Principal, operation: Mapping[str, Any]) -> None:
        """Refuse a write ``principal`` may not make, before it is carried out."""
        action = operation.get("action")
        if action not in WRITE_ACTIONS:
            return
        if not principal.writes:
            raise PermissionDenied(f"{principal.username} may read, not write", "read_only")
        reset_type = operation.get("reset_type")
        if action == "reset_remote" and reset_type == "api_key":
            return  # yourself, or anyone if admin: the backend checks (it knows the key's owner)
        type_name = operation.get("entity_type")
        kind = self._kinds.get(type_name) if isinstance(type_name, str) else None
        if kind is None:
            if not isinstance(type_name, str) or type_name not in self.schema:
                return  # the writer says what is wrong with it
            kind = self._kinds[type_name] = self._kind(type_name)
        if kind == "role":
            raise PermissionDenied(
                f"{type_name} is changed by administrators with 'ftrack-like user role/grant/revoke', "
                "not through the API", "permission",
            )  # fmt: skip
        if kind == "account":
            self._check_account(principal, action, str(type_name), operation, reset_type)
        elif kind == "studio" and not principal.studio:
            raise PermissionDenied(
                f"{type_name} is studio-wide: only users whose role covers every project change it", "permission"
            )

    def _kind(self, type_name: str) -> str:
        """What the rules make of a type: ``role``, ``account``, ``studio`` (studio-wide) or ``project``."""
        family = frozenset(t.name for t in self.schema.ancestry(type_name))
        if family & ROLE_TYPES:
            return "role"
        if family & ACCOUNT_TYPES:
            return "account"
        return "studio" if not self.schema[type_name].project and type_name not in PERSONAL_TYPES else "project"

    def _check_account(
        self, principal: Principal, action: str, type_name: str, operation: Mapping[str, Any], reset_type: Any
    ) -> None:
        if principal.admin:
            return
        if action != "update" and action != "reset_remote":
            raise PermissionDenied(f"Only administrators {action} a {type_name}", "permission")
        key = operation.get("entity_key")
        target = key[0] if isinstance(key, (list, tuple)) and len(key) == 1 else key
        if type_name != "User" or principal.id is None or target != principal.id:
            raise PermissionDenied(f"Only administrators change another {type_name}", "permission")
        data = operation.get("entity_data")
        names = {reset_type} if action == "reset_remote" else set(data) - {"__entity_type__"} if isinstance(data, Mapping) else set()
        refused = sorted(str(name) for name in names - PROFILE)
        if refused:
            raise PermissionDenied(
                f"A user changes only their own {', '.join(sorted(PROFILE - {'thumbnail_id'}))}; "
                f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} for administrators", "permission",
            )  # fmt: skip

    def check_written(self, connection: sa.Connection, principal: Principal, written: Mapping[str, list[Any]]) -> None:
        """Refuse the batch when a row it created or changed is outside the projects ``principal`` writes.

        ``written``: per type, ``(operation index, action, {key column: value})`` of each row.
        """
        if principal.writable is None:
            return
        for type_name, rows in written.items():
            entity_type = self.schema[type_name]
            table = self.storage.table(entity_type)
            inside = self.compiler.visible(entity_type, table, principal.writable)
            if inside is None:
                continue
            columns = [table.c[k] for k in entity_type.primary_key]
            keys = [tuple(key.values()) for _, _, key in rows]
            if len(columns) == 1:
                where = [self.storage.dialect.in_values(columns[0], [k[0] for k in keys])]
            else:
                where = [sa.tuple_(*columns).in_(keys)]
            found = {tuple(row) for row in connection.execute(sa.select(*columns).where(*where, inside))}
            for index, action, key in rows:
                if tuple(key.values()) not in found:
                    raise PermissionDenied(
                        f"this {type_name} would be in a project {principal.username} may not change", "permission"
                    ).at(index, action, type_name, list(key.values()))


def principal_of(user_id: str, username: str, grants: Iterable[tuple[str | None, bool | None, str | None]]) -> Principal:
    """A principal from its grants: (role name, for all projects, one project) per row."""
    grants = [g for g in grants if g[0] is not None]
    if not grants:
        return Principal(user_id, username)  # no role: a user on every project
    if any(role == ADMINISTRATOR for role, _, _ in grants):
        return Principal(user_id, username, admin=True)
    everywhere = any(every for _, every, _ in grants)
    readable = None if everywhere else frozenset(p for _, _, p in grants if p is not None)
    writing = [(every, project) for role, every, project in grants if role != READ_ONLY]
    writable = None if any(every for every, _ in writing) else frozenset(p for _, p in writing if p is not None)
    return Principal(user_id, username, readable=readable, writable=writable, writes=bool(writing))


class Roles:
    """Roles and project grants as the command line changes them (never the API)."""

    def __init__(self, storage: Storage) -> None:
        tables = storage.tables
        self.users, self.roles = tables["resource"], tables["security_role"]
        self.granted, self.projects = tables["user_security_role"], tables["user_security_role_project"]
        self.contexts = tables["context"]

    def install(self, connection: sa.Connection) -> None:
        """Seed the roles of a new database (an older one gets them from the upgrade ``0001``)."""
        present = set(connection.execute(sa.select(self.roles.c.name)).scalars())
        for name in (*ROLES.values(), *STOCK_ROLES):
            if name not in present:
                kind = "API" if name == ADMINISTRATOR else "PROJECT"
                connection.execute(self.roles.insert().values(id=security_role_id(name), name=name, type=kind))

    def role(self, connection: sa.Connection, user_id: str) -> str:
        """A user's role as the command line names it (``admin``, ``user``, ``read-only``), with
        ``(projects: a, b)`` when restricted to some."""
        rows = connection.execute(
            sa.select(self.roles.c.name, self.granted.c.is_all_projects, self.contexts.c.name.label("project"))
            .select_from(self.granted.join(self.roles, self.roles.c.id == self.granted.c.security_role_id)
                         .outerjoin(self.projects, self.projects.c.user_security_role_id == self.granted.c.id)
                         .outerjoin(self.contexts, self.contexts.c.id == self.projects.c.project_id))
            .where(self.granted.c.user_id == user_id)
        ).all()  # fmt: skip
        names = {v: k for k, v in ROLES.items()}
        everywhere = sorted({names.get(r.name, r.name) for r in rows if r.is_all_projects})
        restricted = sorted({f"{names.get(r.name, r.name)} on {r.project}" for r in rows if not r.is_all_projects and r.project})
        if not rows:
            return "user"
        if everywhere and not restricted:
            return ",".join(everywhere)
        return ", ".join(everywhere + restricted) or "no projects"

    def set_role(self, connection: sa.Connection, user_id: str, role: str) -> None:
        """Make ``role`` the user's role everywhere they have access (their grants keep their projects)."""
        rows = connection.execute(sa.select(self.granted.c.id).where(self.granted.c.user_id == user_id)).scalars().all()
        if not rows:
            self._give(connection, user_id, role, everywhere=True)
            return
        connection.execute(
            self.granted.update().where(self.granted.c.user_id == user_id).values(security_role_id=security_role_id(ROLES[role]))
        )
        if role == "admin":  # administrators see every project
            connection.execute(self.granted.update().where(self.granted.c.user_id == user_id).values(is_all_projects=True))

    def grant(self, connection: sa.Connection, user_id: str, project_id: str, role: str | None) -> None:
        """Give the user ``project`` (with ``role``, default their current one) and restrict them to their grants."""
        rows = connection.execute(
            sa.select(self.granted.c.id, self.roles.c.name)
            .join(self.roles, self.roles.c.id == self.granted.c.security_role_id)
            .where(self.granted.c.user_id == user_id)
        ).all()  # fmt: skip
        if any(r.name == ADMINISTRATOR for r in rows):
            raise ValidationError("Administrators see every project: give them another role first", "permission")
        wanted = ROLES[role] if role else (rows[0].name if rows else USER)
        holder = next((r.id for r in rows if r.name == wanted), None) or self._give(connection, user_id, _ROLES_BY_NAME[wanted])
        connection.execute(self.granted.update().where(self.granted.c.user_id == user_id).values(is_all_projects=False))
        connection.execute(
            self.projects.delete().where(
                self.projects.c.project_id == project_id,
                self.projects.c.user_security_role_id.in_(sa.select(self.granted.c.id).where(self.granted.c.user_id == user_id)),
            )
        )  # fmt: skip
        connection.execute(self.projects.insert().values(id=str(uuid.uuid4()), user_security_role_id=holder, project_id=project_id))

    def revoke(self, connection: sa.Connection, user_id: str, project_id: str) -> int:
        """Take ``project`` from the user's grants; how many grants went."""
        mine = sa.select(self.granted.c.id).where(self.granted.c.user_id == user_id)
        taken = connection.execute(
            self.projects.delete().where(self.projects.c.project_id == project_id, self.projects.c.user_security_role_id.in_(mine))
        ).rowcount  # fmt: skip
        # A role left with no project goes, while another holds the user's remaining grants.
        used = sa.select(self.projects.c.user_security_role_id)
        empty = connection.execute(mine.where(self.granted.c.id.not_in(used))).scalars().all()
        if empty and len(empty) < len(connection.execute(mine).all()):
            connection.execute(self.granted.delete().where(self.granted.c.id.in_(empty)))
        return taken

    def allow_all(self, connection: sa.Connection, user_id: str) -> None:
        """Lift the user's restriction: one role (a writing one, if they had one) on every project."""
        rows = connection.execute(
            sa.select(self.granted.c.id, self.roles.c.name)
            .join(self.roles, self.roles.c.id == self.granted.c.security_role_id)
            .where(self.granted.c.user_id == user_id)
        ).all()  # fmt: skip
        if not rows:
            return
        kept = min(rows, key=lambda row: row.name == READ_ONLY).id
        connection.execute(self.granted.delete().where(self.granted.c.user_id == user_id, self.granted.c.id != kept))
        connection.execute(self.projects.delete().where(self.projects.c.user_security_role_id == kept))
        connection.execute(self.granted.update().where(self.granted.c.id == kept).values(is_all_projects=True))

    def _give(self, connection: sa.Connection, user_id: str, role: str, everywhere: bool = False) -> str:
        made = str(uuid.uuid4())
        connection.execute(self.granted.insert().values(
            id=made, user_id=user_id, security_role_id=security_role_id(ROLES[role]), is_all_projects=everywhere,
        ))  # fmt: skip
        return made


_ROLES_BY_NAME = {name: role for role, name in ROLES.items()}
