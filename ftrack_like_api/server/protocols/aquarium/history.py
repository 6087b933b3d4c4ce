"""An item's history (``GET /v1/items/<key>/history``), read from our event log.

Aquarium keeps each earlier state of an item's data; we keep the log of every change
through any API (:mod:`...events.log`). An item's history is its changes there, oldest
first: one entry per change, shaped as an item (so the client's ``cast`` reads it) whose
``data`` holds what that change set — an attribute of ours changed through any API (by its
Aquarium data key), and the data Aquarium's routes kept beside it — with ``action``
(``created``, ``updated``, ``deleted``), ``updatedAt`` and ``updatedBy``. What the log no
longer holds (it is kept ``retention`` long) is not there.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from ...engine.batch import BatchContext
from .events import CHANGE
from .mapping import ItemType
from .shapes import stamp

__all__ = ["history"]

_VERBS = {"add": "created", "update": "updated", "move": "updated", "remove": "deleted"}


def history(batch: BatchContext, log: sa.Table, item: dict[str, Any], kind: ItemType | None) -> list[dict[str, Any]]:
    """The changes of ``item`` (of the mapped type ``kind``, or None) in the log, oldest first (see the module's text)."""
    key = str(item["_key"])
    mentions = log.c.data.like("%" + json.dumps(key) + "%")
    rows = batch.connection.execute(sa.select(log.c.seq, log.c.topic, log.c.data, log.c.sent, log.c.user_id)
                                    .where(log.c.topic.in_(["ftrack.update", CHANGE]), mentions).order_by(log.c.seq)).all()  # fmt: skip
    ours = {attribute: name for name, attribute in (kind.data.items() if kind is not None else ())}
    found: list[dict[str, Any]] = []
    beside: dict[str, Any] = {}  # data kept beside the entity, logged just before the engine's event of the same change
    for row in rows:
        data = json.loads(row.data)
        if row.topic == CHANGE and isinstance(data, dict) and data.get("beside") and data.get("key") == key:
            beside.update(data.get("data") or {})
            continue
        for verb, changes in _changes(row.topic, data, key, ours):
            changes, beside = {**changes, **beside}, {}
            found.append({"_id": f"items/{key}", "_key": key, "_rev": str(row.seq), "type": item["type"], "action": verb,
                          "data": changes, "createdAt": item["createdAt"], "updatedAt": stamp(row.sent),
                          "createdBy": item["createdBy"], "updatedBy": row.user_id})  # fmt: skip
    return found


def _changes(topic: str, data: Any, key: str, ours: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """(verb, data set) of each change of ``key`` an event of the log tells; ``ours``: attribute -> Aquarium data key."""
    if not isinstance(data, dict):
        return []
    if topic == CHANGE:
        if data.get("category") == "item" and data.get("key") == key:
            return [(str(data.get("verb")), dict(data.get("data") or {}))]
        return []
    found = []
    for entity in data.get("entities") or []:
        if entity.get("entityId") == key and entity.get("action") in _VERBS:
            changes = entity.get("changes") or {}
            found.append((_VERBS[entity["action"]], {ours[name]: change.get("new") for name, change in changes.items()
                                                      if name in ours and isinstance(change, dict)}))  # fmt: skip
    return found
