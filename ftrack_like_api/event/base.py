"""An event: a topic and data, published by a source, maybe for a target."""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Mapping

__all__ = ["Event"]


class Event(dict):  # type: ignore[type-arg]
    """An event, as a mapping with ftrack's keys: ``id``, ``topic``, ``data``, ``source``,
    ``target``, ``sent``, ``in_reply_to_event``.

    An event that came from a server's log also knows its place there: :attr:`seq`.
    A subscriber may :meth:`stop` it: the subscribers after it (by priority) are not called.
    """

    def __init__(
        self,
        topic: str,
        data: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        target: str = "",
        in_reply_to_event: str | None = None,
        id: str | None = None,  # noqa: A002 - ftrack's name for it
        sent: str | None = None,
    ) -> None:
        super().__init__(
            id=id or uuid.uuid4().hex,
            topic=topic,
            data=data if data is not None else {},
            source=source if source is not None else {},
            target=target,
            sent=sent,
            in_reply_to_event=in_reply_to_event,
        )
        self._stopped = False
        #: The event's sequence number in the server's log (None for an event not from the log).
        self.seq: int | None = None

    def stop(self) -> None:
        """Stop the event: subscribers of lower priority than the one calling this are not called."""
        self._stopped = True

    def is_stopped(self) -> bool:
        """Whether a subscriber stopped the event."""
        return self._stopped

    def stamp(self) -> None:
        """Record when it was sent."""
        self["sent"] = datetime.datetime.now(datetime.timezone.utc).isoformat()

    def to_wire(self) -> dict[str, Any]:
        """The event as the server takes it (ftrack's wire names: ``inReplyToEvent``)."""
        return {"id": self["id"], "topic": self["topic"], "data": self["data"], "source": self["source"],
                "target": self["target"] or "", "sent": self["sent"],
                "inReplyToEvent": self["in_reply_to_event"]}  # fmt: skip

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Event:
        """An event from the server's shape (with its ``seq``, when it has one)."""
        event = cls(str(wire["topic"]), data=wire.get("data") or {}, source=wire.get("source") or {},
                    target=wire.get("target") or "", in_reply_to_event=wire.get("inReplyToEvent"),
                    id=wire.get("id"), sent=wire.get("sent"))  # fmt: skip
        seq = wire.get("seq")
        event.seq = int(seq) if seq is not None else None
        return event

    def __repr__(self) -> str:
        return f"<Event {self['topic']!r} {self['id'][:8]}>"
