"""The studio as Lagoon's one organisation: a kept ``Organisation`` item and its containers, and its members.

Made the first time Lagoon asks (under fixed keys, so every worker finds the same items);
its members are the studio's users, active or not; its Projects container leads to every
project of ours (:mod:`.relations`), which the caller sees as their permissions allow.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from ....exceptions import ValidationError
from ...engine.batch import BatchContext
from .relations import LAGOON_NAMESPACE, Relations
from .store import Store

__all__ = ["CONTAINERS", "Organisation"]

#: The containers under the organisation Lagoon's client looks for: (type, name).
CONTAINERS = (("Properties", "Properties"), *(("Container", name) for name in
              ("Talents", "Applicants", "Licenses", "Hardware", "Projects", "Buildings", "Teams")))  # fmt: skip


def _key(name: str) -> str:
    return str(uuid.uuid5(LAGOON_NAMESPACE, name))


class Organisation:
    """The studio's organisation over one store."""

    def __init__(self, store: Store, relations: Relations) -> None:
        self.store, self.relations = store, relations
        self.key = _key("organisation")

    def ensure(self, batch: BatchContext) -> str:
        """The organisation's key, its items made first if they are not yet."""
        table = self.relations.item_table
        if batch.connection.execute(sa.select(table.c.key).where(table.c.key == self.key)).first() is not None:
            return self.key
        self.store.keep(batch, self.key, "Organisation", {"name": "Studio"}, generic=True, checked=False)
        for type_name, name in CONTAINERS:
            key = _key("container:" + name)
            self.store.keep(batch, key, type_name, {"name": name}, generic=True, checked=False)
            batch.connection.execute(self.relations.edge_table.insert().values(
                key=_key("edge:" + name), type="Child", generic=True, from_key=self.key, to_key=key, data="{}"))  # fmt: skip
        return self.key

    def members(self, batch: BatchContext, p: dict[str, Any]) -> list[dict[str, Any]]:
        """The studio's users (``which``: all, active, inactive), by name, ``offset`` and ``limit`` applied."""
        try:
            offset, limit = int(p.get("offset") or 0), int(p.get("limit") or 200)
        except ValueError:
            raise ValidationError("offset and limit are whole numbers", "bad_request") from None
        users = self.relations.resource
        select = sa.select(users.c.id).where(users.c.resource_type == "user")
        if p.get("which") == "active":
            select = select.where(users.c.is_active.is_not(False))
        elif p.get("which") == "inactive":
            select = select.where(users.c.is_active.is_(False))
        keys = list(batch.connection.execute(select.order_by(users.c.username).offset(offset).limit(limit)).scalars())
        found = self.store.items(batch, keys)
        return [found[k] for k in keys if k in found]
