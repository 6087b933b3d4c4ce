"""Who may read and write a component's file: the project rules of its rows, applied to its bytes.

A user reads a component's file where they may read the component (else: not found, as for
rows — a project they cannot see shows nothing of itself), and writes or removes it where
they may change it: a read-only role downloads and cannot upload or remove.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...exceptions import ValidationError

if TYPE_CHECKING:
    from ..auth.permissions import Principal
    from ..engine.backend import Backend

__all__ = ["Access", "Stored", "disposition", "filename_of"]


@dataclasses.dataclass(frozen=True)
class Stored:
    """A component a user may reach: its id and the name its file is saved as."""

    id: str
    filename: str


def filename_of(name: Any, file_type: Any) -> str:
    """``<name><file_type>`` as a download names it: printable, no quotes, slashes or control characters."""
    text = f"{name or 'file'}{file_type or ''}"
    cleaned = "".join(c if c.isprintable() and c not in '"\\/;' else "_" for c in text).strip() or "file"
    return cleaned[:200]


def disposition(filename: str) -> str:
    """A ``Content-Disposition`` naming ``filename``: ASCII for every client, UTF-8 (RFC 6266) for those that read it."""
    plain = "".join(c if " " <= c <= "~" else "_" for c in filename)
    if plain == filename:
        return f'attachment; filename="{plain}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


class Access:
    """Looks components up as a principal may see or change them."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.entity_type = backend.schema["Component"]
        self.table = backend.storage.table(self.entity_type)

    def principal(self, connection: sa.Connection, username: str, user_id: str | None) -> Principal:
        return self.backend.permissions.principal(connection, username, user_id)

    def readable(self, connection: sa.Connection, principal: Principal, component_id: str) -> Stored:
        """The component if ``principal`` may read it; else a ``not_found`` error (as for a row)."""
        return self._find(connection, principal.readable, component_id)

    def writable(self, connection: sa.Connection, principal: Principal, component_id: str, new: bool = False) -> Stored:
        """The component if ``principal`` may change it; not found if they cannot read it, refused if not write.

        With ``new``, a component not created yet is let through for a user who writes: ftrack's
        client uploads a new component's file before it commits the component.
        """
        from ..auth.permissions import PermissionDenied

        if not principal.writes:
            raise PermissionDenied(f"{principal.username} may read, not write", "read_only")
        if new and connection.execute(sa.select(self.table.c.id).where(self.table.c.id == component_id)).first() is None:
            return Stored(component_id, "file")
        stored = self.readable(connection, principal, component_id)
        if principal.writable is not None and principal.writable != principal.readable:
            self._find(connection, principal.writable, component_id, denied=True)
        return stored

    def _find(self, connection: sa.Connection, projects: frozenset[str] | None, component_id: str, denied: bool = False) -> Stored:
        table = self.table
        where = [table.c.id == component_id]
        inside = self.backend.compiler.visible(self.entity_type, table, projects)
        if inside is not None:
            where.append(inside)
        row = connection.execute(sa.select(table.c.id, table.c.name, table.c.file_type).where(*where)).first()
        if row is None:
            if denied:
                from ..auth.permissions import PermissionDenied

                raise PermissionDenied("this Component is in a project you may not change", "permission")
            raise ValidationError(f"No Component with id {component_id}", "not_found")
        return Stored(str(row.id), filename_of(row.name, row.file_type))
