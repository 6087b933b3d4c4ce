"""Who may read a file at ``/files/<name>``: the project rules of what it belongs to, as the APIs apply them.

A file is a component's (:mod:`.uploads`). A user reads it where they may read the component
(ftrack's rule: a component of a version in a project they cannot see is not found) and, when
it was uploaded on an item, where they may read that item's project: the item's own, or — for
an item kept whole (a Version under a Task) — the project of the nearest item above it along
Child edges. The item a file was uploaded on is the component's metadata ``aquarium_item``.
Anything else answers "not found", as for a row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ....exceptions import ValidationError
from ....symbol import SERVER_LOCATION_ID

__all__ = ["FileRule", "ITEM_KEY"]

#: The metadata key of a component that names the item its file was uploaded on.
ITEM_KEY = "aquarium_item"
#: How many Child edges up an item's project is looked for.
_DEPTH = 32


class FileRule:
    """Decides whether a caller may read a component's file (see the module's text)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        tables = backend.storage.tables
        self.locations, self.metadata, self.context = tables["component_location"], tables["metadata"], tables["context"]
        self.edges = backend.storage.aquarium["aquarium_edge"]

    def readable(self, username: str, user_id: str, component_id: str) -> bool:
        with self.backend.engine.connect() as connection:
            locations = self.locations
            held = sa.select(locations.c.id).where(locations.c.component_id == component_id,
                                                   locations.c.location_id == SERVER_LOCATION_ID)  # fmt: skip
            if connection.execute(held.limit(1)).first() is None:
                return False
            principal = self.backend.permissions.principal(connection, username, user_id)
            try:
                self.backend.files.access.readable(connection, principal, component_id)
            except ValidationError:
                return False
            if principal.readable is None:
                return True
            meta = self.metadata
            item = connection.execute(sa.select(meta.c.value).where(meta.c.parent_id == component_id, meta.c.key == ITEM_KEY)).scalar()
            if item is None:
                return True
            project = self.project_of(connection, str(item))
            return project is None or project in principal.readable

    def project_of(self, connection: sa.Connection, key: str) -> str | None:
        """The project of item ``key``: its own as a context, else the nearest one up its Child edges (None: no project)."""
        context, edges = self.context, self.edges
        for _ in range(_DEPTH):
            found = connection.execute(sa.select(sa.func.coalesce(context.c.project_id, context.c.id)).where(context.c.id == key)).scalar()
            if found is not None:
                return str(found)
            above = connection.execute(sa.select(edges.c.from_key).where(edges.c.type == "Child", edges.c.to_key == key).limit(1)).scalar()
            if above is None:
                return None
            key = str(above)
        return None
