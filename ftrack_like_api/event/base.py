"""An event: a topic and data, published by a source, maybe for a target."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

__all__ = ["Event"]


class Event(dict):  # type: ignore[type-arg]
    """An event, as a mapping with ftrack's keys: ``id``, ``topic``, ``data``, ``source``,
    ``target``, ``sent``, ``in_reply_to_event``."""

    def __init__(
        self,
        topic: str,
        data: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        target: str = "",
        in_reply_to_event: str | None = None,
        id: str | None = None,  # noqa: A002 - ftrack's name for it
    ) -> None:
        super().__init__(
            id=id or uuid.uuid4().hex,
            topic=topic,
            data=data if data is not None else {},
            source=source if source is not None else {},
            target=target,
            sent=None,
            in_reply_to_event=in_reply_to_event,
        )

    def stamp(self) -> None:
        """Record when it was sent."""
        self["sent"] = datetime.datetime.now(datetime.timezone.utc).isoformat()

    def __repr__(self) -> str:
        return f"<Event {self['topic']!r} {self['id'][:8]}>"
