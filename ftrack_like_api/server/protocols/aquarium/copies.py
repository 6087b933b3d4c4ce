"""A copy of an item and everything under it (``POST /v1/items/<key>/copy``, ``{targetKey}``).

The item is made again under the target (as ``append`` would: an entity of ours where the
mapping makes the pair our relation, else kept whole and linked by a ``Child`` edge), with
its data, and so is each item under it along ``Child`` edges, depth first, each under its
copied parent. Only the hierarchy is copied: assignments, links and other edges are not;
a copied ``Media`` keeps the data of the original (its ``path`` reads the original's file)
but has no file of its own. The answer is every copy, the item's first.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ....exceptions import ValidationError
from ...engine.batch import BatchContext
from .store import Store

__all__ = ["copy_tree"]

#: How many items one copy makes at most.
MOST = 10_000


def copy_tree(store: Store, batch: BatchContext, key: Any, target: Any) -> list[dict[str, Any]]:
    """Copy item ``key`` and its children under item ``target``; the copies (see the module's text)."""
    if not isinstance(target, str) or not target:
        raise ValidationError("copy takes {targetKey: the key of the item to copy into}", "bad_request")
    source, under = store.item(batch, key), store.item(batch, target)
    made: list[str] = []
    pending = [(source, under["_key"])]
    while pending:
        item, parent = pending.pop(0)
        if len(made) >= MOST:
            raise ValidationError(f"copy makes at most {MOST} items", "bad_request")
        copied = _append(store, batch, parent, item)
        made.append(copied)
        for child in _children(store, batch, item["_key"]):
            pending.append((child, copied))
    copies = store.items(batch, made)
    return [copies[k] for k in made]


def _append(store: Store, batch: BatchContext, parent: str, item: dict[str, Any]) -> str:
    parent_type = store.item(batch, parent)["type"]
    relation = store.mapping.edge("Child", parent_type, item["type"])
    if relation is not None and relation.ours == "parent":
        return store.create(batch, item["type"], item["data"], parent=parent)
    key = store.create(batch, item["type"], item["data"])
    store.connect(batch, "Child", parent, key)
    return key


def _children(store: Store, batch: BatchContext, key: str) -> list[dict[str, Any]]:
    edges = store.relations.edges(("Child",))
    keys = list(batch.connection.execute(sa.select(edges.c.to_key).where(edges.c.from_key == key).order_by(edges.c.to_key)).scalars())
    found = store.items(batch, keys)
    return [found[k] for k in keys if k in found and found[k]["type"] != "User"]
