"""An event as ftrack's hub sends it: read and encoded once for every socket of the worker.

The sockets read the log through the worker's :class:`~ftrack_like_api.server.events.tail.Tail`
(shared with the ``/events`` streams), which also filters what each user may read; this is
only the hub's own encoding of each event, kept with it by :meth:`Entry.form
<ftrack_like_api.server.events.tail.Entry.form>`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .packets import NAMESPACE, event

if TYPE_CHECKING:
    from ....events.log import StoredEvent

__all__ = ["Outgoing", "outgoing"]


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """An event as the sockets send it."""

    #: ftrack's event shape, without ``seq`` (ftrack's client builds ``Event(**event)``: ftrack's keys only).
    wire: dict[str, Any]
    #: The packet, ``5:::{"name": "ftrack.event", "args": [event]}``.
    packet: str


def outgoing(stored: StoredEvent) -> Outgoing:
    """The hub's encoding of ``stored`` (pass it to :meth:`Entry.form`, which makes it once)."""
    wire = stored.to_wire()
    del wire["seq"]
    return Outgoing(wire, event(NAMESPACE, wire))
