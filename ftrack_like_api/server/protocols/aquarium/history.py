"""An item's history (``GET /v1/items/<key>/history``), read from our event log.

Aquarium keeps each earlier state of an item's data; we keep the log of every change
through any API (:mod:`...events.log`). An item's history is its changes there, oldest
first: one entry per change, shaped as an item (so the client's ``cast`` reads it) whose
``data`` holds what that change set — an attribute of ours changed through any API (by its
Aquarium data key), and the data Aquarium's routes kept beside it — with ``action``
(``created``, ``updated``, ``deleted``), ``updatedAt`` and ``updatedBy``. What the log no
longer holds (it is kept ``retention`` long) is not there.

The changes of an item are found through ``aquarium_history`` (the item's key and the
log's ``seq``: its primary key), not by matching the item's key in the text of every event:
the events appended since the last look are indexed first (:func:`catch_up`), each read
once however many histories are asked for.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from .events import CHANGE
from .mapping import ItemType
from .shapes import stamp

__all__ = ["catch_up", "history"]

#: How many events of the log one catch-up step reads.
_CHUNK = 200
_VERBS = {"add": "created", "update": "updated", "move": "updated", "remove": "deleted"}


def history(backend: Any, item: dict[str, Any], kind: ItemType | None) -> list[dict[str, Any]]:
    """The changes of ``item`` (of the mapped type ``kind``, or None) in the log, oldest first (see the module's text)."""
    key = str(item["_key"])
    log, index = backend.storage.events["event_log"], backend.storage.aquarium["aquarium_history"]
    catch_up(backend)
    with backend.engine.connect() as connection:  # after the catch-up's commit (a batch's snapshot may be older)
        rows = connection.execute(sa.select(log.c.seq, log.c.topic, log.c.data, log.c.sent, log.c.user_id)
                                  .join(index, index.c.seq == log.c.seq).where(index.c.key == key)
                                  .order_by(log.c.seq)).all()  # fmt: skip
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


def catch_up(backend: Any) -> int:
    """Index the events of the log after the last one indexed by the items they change (``aquarium_history``); how
    many events were read. Each event is read once, whoever asks; two at once insert the same rows, kept once. The
    rows of events the log no longer holds (past its retention) are removed."""
    log, index = backend.storage.events["event_log"], backend.storage.aquarium["aquarium_history"]
    insert: Any = postgresql.insert if backend.engine.dialect.name == "postgresql" else sqlite.insert
    read = 0
    with backend.engine.connect().execution_options(ftrack_writes=True) as connection:
        with connection.begin():  # what the log's retention pruned goes from the index too (an index range of seq)
            oldest = connection.execute(sa.select(sa.func.min(log.c.seq))).scalar()
            connection.execute(index.delete().where(index.c.seq < oldest) if oldest is not None else index.delete())
        while True:
            with connection.begin():
                done = connection.execute(sa.select(sa.func.coalesce(sa.func.max(index.c.seq), 0))).scalar()
                rows = connection.execute(sa.select(log.c.seq, log.c.topic, log.c.data).where(
                    log.c.topic.in_(["ftrack.update", CHANGE]), log.c.seq > done).order_by(log.c.seq).limit(_CHUNK)).all()  # fmt: skip
                # An event that changes no item is kept under the key "", so it is not read again.
                pairs = [{"key": k, "seq": row.seq} for row in rows for k in sorted(_keys(row.topic, row.data) or {""})]
                if pairs:
                    connection.execute(insert(index).values(pairs).on_conflict_do_nothing())
            read += len(rows)
            if len(rows) < _CHUNK:
                return read


def _keys(topic: str, text: str) -> set[str]:
    """The keys of the items an event of the log changes."""
    data = json.loads(text)
    if not isinstance(data, dict):
        return set()
    if topic == CHANGE:
        return {data["key"]} if isinstance(data.get("key"), str) and data["key"] else set()
    entities = data.get("entities") or []
    return {e["entityId"] for e in entities if isinstance(e, dict) and isinstance(e.get("entityId"), str) and e["entityId"]}


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
