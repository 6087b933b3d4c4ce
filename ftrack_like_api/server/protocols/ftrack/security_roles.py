"""ftrack's actions on a user's security roles, for administrators.

ftrack's documentation (its "Working with user security roles" example) gives a user a
role, takes it back, swaps it for another, and grants or revokes one project under it,
each with one ``session.call`` operation:

- ``add_user_security_role`` ``{user_id, role_id}``: the user holds the role (on no project
  until one is granted; ``is_all_projects`` true gives it on every project);
- ``remove_user_security_role`` ``{user_id, role_id}``: the user no longer holds it;
- ``update_user_security_role`` ``{user_id, role_id, new_role_id}``: the holding (and its
  projects) moves to the new role (held already, the old one goes; not holding the old one,
  the user gets the new one);
- ``grant_user_security_role_project`` / ``revoke_user_security_role_project``
  ``{user_id, role_id, project_id}``: one project under a role the user holds (granted
  under a role the user does not hold yet, it gives it).

They change the rows ``UserSecurityRole`` and ``UserSecurityRoleProject`` that the API
reads and ``permissions.py`` applies (the command line's ``ftrack-like user role`` /
``grant`` change the same). Only an administrator may; a wrong id is a clear error.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from ....exceptions import ValidationError
from ...auth.permissions import PermissionDenied
from ...engine.backend import Backend
from ...engine.batch import BatchContext

__all__ = ["ACTIONS", "register"]

#: Each action and the method of ``_Roles`` that carries it out.
ACTIONS = {"add_user_security_role": "add", "remove_user_security_role": "remove",
           "update_user_security_role": "update", "grant_user_security_role_project": "grant_project",
           "revoke_user_security_role_project": "revoke_project"}  # fmt: skip


def register(backend: Backend) -> None:
    """Carry out the five actions above on ``backend``."""
    roles = _Roles(backend)
    for name, method in ACTIONS.items():
        backend.register_action(name, _admin_only(name, getattr(roles, method)), writes=True)


def _admin_only(name: str, handler: Callable[[BatchContext, Mapping[str, Any]], Any]) -> Callable[..., Any]:
    def run(batch: BatchContext, operation: Mapping[str, Any]) -> Any:
        if not batch.principal.admin:
            raise PermissionDenied(f"{batch.principal.username} may not change security roles ({name}): "
                                   "administrators do", "permission")  # fmt: skip
        return handler(batch, operation)

    return run


class _Roles:
    def __init__(self, backend: Backend) -> None:
        tables = backend.storage.tables
        self.users, self.roles, self.contexts = tables["resource"], tables["security_role"], tables["context"]
        self.held, self.projects = tables["user_security_role"], tables["user_security_role_project"]

    def _ids(self, batch: BatchContext, operation: Mapping[str, Any], *names: str) -> list[str]:
        found = []
        for name in names:
            value = operation.get(name)
            if not isinstance(value, str) or not value:
                raise ValidationError(f"{operation.get('action')} needs {name} (an id)", "bad_request")
            column, kind = {"user_id": (self.users.c.id, "User"), "role_id": (self.roles.c.id, "SecurityRole"),
                            "new_role_id": (self.roles.c.id, "SecurityRole"),
                            "project_id": (self.contexts.c.id, "Project")}[name]  # fmt: skip
            where = [column == value]
            if kind == "Project":
                where.append(self.contexts.c.context_type == "show")
            if batch.connection.execute(sa.select(column).where(*where)).first() is None:
                raise ValidationError(f"No {kind} with id {value} ({name})", "not_found")
            found.append(value)
        return found

    def _holding(self, batch: BatchContext, user: str, role: str) -> str | None:
        return batch.connection.execute(
            sa.select(self.held.c.id).where(self.held.c.user_id == user, self.held.c.security_role_id == role).limit(1)
        ).scalar()  # fmt: skip

    def _give(self, batch: BatchContext, user: str, role: str, everywhere: bool) -> str:
        made = str(uuid.uuid4())
        batch.connection.execute(self.held.insert().values(id=made, user_id=user, security_role_id=role,
                                                           is_all_projects=everywhere))  # fmt: skip
        return made

    def add(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        user, role = self._ids(batch, operation, "user_id", "role_id")
        holding = self._holding(batch, user, role)
        if holding is None:
            holding = self._give(batch, user, role, bool(operation.get("is_all_projects", False)))
        return {"data": {"id": holding}}

    def remove(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        user, role = self._ids(batch, operation, "user_id", "role_id")
        holding = self._holding(batch, user, role)
        if holding is None:
            raise ValidationError(f"The user {user} does not hold the security role {role}", "not_found")
        batch.connection.execute(self.projects.delete().where(self.projects.c.user_security_role_id == holding))
        batch.connection.execute(self.held.delete().where(self.held.c.id == holding))
        return {"data": True}

    def update(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        """Remove one role and add another in one request (ftrack's words): the holding moves, with its projects."""
        user, role, new_role = self._ids(batch, operation, "user_id", "role_id", "new_role_id")
        holding = self._holding(batch, user, role)
        kept = self._holding(batch, user, new_role)
        if kept is not None:
            if holding is not None and holding != kept:
                self.remove(batch, operation)
            return {"data": {"id": kept}}
        if holding is None:
            return {"data": {"id": self._give(batch, user, new_role, everywhere=False)}}
        batch.connection.execute(self.held.update().where(self.held.c.id == holding).values(security_role_id=new_role))
        return {"data": {"id": holding}}

    def grant_project(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        user, role, project = self._ids(batch, operation, "user_id", "role_id", "project_id")
        holding = self._holding(batch, user, role) or self._give(batch, user, role, everywhere=False)
        granted = batch.connection.execute(
            sa.select(self.projects.c.id).where(self.projects.c.user_security_role_id == holding,
                                                self.projects.c.project_id == project)
        ).scalar()  # fmt: skip
        if granted is None:
            granted = str(uuid.uuid4())
            batch.connection.execute(self.projects.insert().values(id=granted, user_security_role_id=holding,
                                                                   project_id=project))  # fmt: skip
        return {"data": {"id": granted}}

    def revoke_project(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        user, role, project = self._ids(batch, operation, "user_id", "role_id", "project_id")
        holding = self._holding(batch, user, role)
        taken = 0
        if holding is not None:
            taken = batch.connection.execute(
                self.projects.delete().where(self.projects.c.user_security_role_id == holding,
                                             self.projects.c.project_id == project)
            ).rowcount  # fmt: skip
        if not taken:
            raise ValidationError(f"The user {user} has no grant of project {project} under the role {role}", "not_found")
        return {"data": True}
