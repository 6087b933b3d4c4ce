"""Aquarium's server-sent events (``GET /v1/events/stream``), fed by our event log.

Every change through any API is in the log: an entity's as ``ftrack.update`` (written by
the engine), an item or edge kept whole as ``aquarium.change`` (written here, in the
batch's transaction). Each becomes Aquarium's events: topics ``item.created.Shot``,
``item.updated.Task``, ``item.deleted.Shot``, ``edge.created.Assigned``,
``edge.created.Child`` (a context made under a parent) …, the data naming the item or
edge. The SSE ``id`` is ``<seq>.<n>`` (the log's sequence number and the event's place in
it): a client that comes back with ``last-event-id`` misses nothing and sees nothing twice.
The caller sees the events of the projects they may read.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from ...engine.batch import BatchContext
from ...events.log import StoredEvent
from .mapping import Mapping
from .shapes import stamp

__all__ = ["AquariumEvents", "CHANGE", "resume_point"]

#: The log's topic for a change of an item or edge kept whole.
CHANGE = "aquarium.change"
#: Where a batch keeps the highest sequence number :meth:`AquariumEvents.record` logged in it.
_LOGGED = ("aquarium", "logged")
_VERBS = {"add": "created", "update": "updated", "move": "updated", "remove": "deleted"}


def resume_point(last_event_id: str | None) -> tuple[int, int] | None:
    """(seq, place) from a ``last-event-id`` (``<seq>.<n>`` or ``<seq>``); None when there is none or it is not one."""
    if not last_event_id:
        return None
    seq, _, place = last_event_id.strip().partition(".")
    try:
        return int(seq), int(place) if place else 1 << 30
    except ValueError:
        return None


class AquariumEvents:
    """Aquarium's events of one mapping: written for kept items and edges, read from the log."""

    def __init__(self, backend: Any, mapping: Mapping) -> None:
        self.backend, self.mapping = backend, mapping
        self.by_ours = {t.ours: t.name for t in mapping.items.values()}

    def record(self, batch: BatchContext, category: str, verb: str, type_name: str, key: str, data: Any = None,
               beside: bool = False) -> None:  # fmt: skip
        """Log a change of an item or edge kept whole, in the batch's transaction; ``data``: what it set (an item's
        history reads it). ``beside``: the data kept beside an entity whose own change the engine logs (no second event
        on the stream)."""
        change = {"category": category, "verb": verb, "type": type_name, "key": key,
                  **({"data": data} if data is not None else {}), **({"beside": True} if beside else {})}  # fmt: skip
        seqs = self.backend.events.append(batch.connection, [{"topic": CHANGE, "data": change}], batch.user_id)
        batch.cache[_LOGGED] = max([batch.cache.get(_LOGGED, 0), *seqs])

    def committed(self, batch: BatchContext) -> None:
        """After a batch commits: tell the broker of what :meth:`record` logged in it (the engine tells it of its own
        events only when entities changed), so event streams waiting in this process read it now."""
        logged = batch.cache.get(_LOGGED)
        if logged:
            self.backend.broker.notify(logged)

    def translate(self, event: StoredEvent) -> Iterator[dict[str, Any]]:
        """Aquarium's events for one event of the log (none for what Aquarium has no name for)."""
        if event.topic == CHANGE and isinstance(event.data, dict):
            d = event.data
            if d.get("beside"):
                return
            yield self._event(event, d.get("category"), d.get("verb"), d.get("type"), d.get("key"))
            return
        if event.topic != "ftrack.update" or not isinstance(event.data, dict):
            return
        for entity in event.data.get("entities") or []:
            verb = _VERBS.get(entity.get("action"))
            ours, key = entity.get("entity_type"), entity.get("entityId")
            if verb is None or not isinstance(key, str):
                continue
            if ours in ("Appointment", "Membership"):
                yield self._event(event, "edge", verb, "Assigned" if ours == "Appointment" else "Member", key)
            elif ours == "ListObject" and self.mapping.list_items():
                yield self._event(event, "edge", verb, self.mapping.list_items()[0], key)
            elif ours == "TypedContextLink":
                yield self._event(event, "edge", verb, self.mapping.links()[0], key)
            elif ours in self.by_ours:
                changes = entity.get("changes") or {}
                if ours == "FileComponent" and entity.get("action") == "add" and not (changes.get("version_id") or {}).get("new"):
                    continue  # a file uploaded on an item, not a Media of a version
                yield self._event(event, "item", verb, self.by_ours[ours], key)
                if entity.get("action") in ("add", "move") and entity.get("parentId"):
                    yield self._event(event, "edge", "created", "Child", "parent-" + key)

    def _event(self, event: StoredEvent, category: Any, verb: Any, type_name: Any, key: Any) -> dict[str, Any]:
        collection = "items" if category == "item" else "connections"
        return {"topic": f"{category}.{verb}.{type_name}", "type": f"{category}.{verb}", "createdAt": stamp(event.sent),
                "createdBy": event.user_id, "data": {"_id": f"{collection}/{key}", "_key": key, "type": type_name}}  # fmt: skip

    def stream_text(self, events: list[StoredEvent], resume: tuple[int, int] | None) -> tuple[str, int]:
        """The SSE text of ``events`` (skipping what ``resume`` saw), and the last seq read."""
        parts, last = [], resume[0] if resume else 0
        for event in events:
            last = event.seq
            for place, payload in enumerate(self.translate(event)):
                if resume is not None and event.seq == resume[0] and place <= resume[1]:
                    continue
                key = f"{event.seq}.{place}"
                body = {"_id": f"events/{key}", "_key": key, "_timestamp": key, **payload}
                parts.append(f"id: {key}\ndata: {json.dumps(body, separators=(',', ':'))}\n\n")
        return "".join(parts), last
