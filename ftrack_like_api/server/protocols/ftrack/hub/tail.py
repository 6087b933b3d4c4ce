"""The end of the event log as this worker's sockets read it: one database read for all of them.

Sockets that keep up all want the same few newest events; the tail reads them once (every
topic, every project) and hands each socket its slice, which the socket then filters by
what its user may read (:func:`visible`, the rule of :meth:`EventLog.read`) and what its
subscribers want. It keeps the newest ``keep`` events; a socket that has fallen further
behind reads the log itself, filtered in the database, until it is back within them.
"""

from __future__ import annotations

import bisect
import dataclasses
from typing import TYPE_CHECKING, Any, Sequence

import anyio

from .packets import NAMESPACE, event

if TYPE_CHECKING:
    from ....auth.permissions import Principal
    from ....events.log import StoredEvent

__all__ = ["KEEP", "Outgoing", "READ_LIMIT", "Tail", "visible"]

#: Events read from the log at a time.
READ_LIMIT = 500

#: Newest events kept for the sockets that keep up.
KEEP = 2000


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """An event as the sockets send it: read and encoded once for all of them."""

    stored: StoredEvent
    #: ftrack's event shape, without ``seq`` (ftrack's client builds ``Event(**event)``: ftrack's keys only).
    wire: dict[str, Any]
    #: The packet, ``5:::{"name": "ftrack.event", "args": [event]}``.
    packet: str


def outgoing(stored: StoredEvent) -> Outgoing:
    wire = stored.to_wire()
    del wire["seq"]
    return Outgoing(stored, wire, event(NAMESPACE, wire))


def visible(event: StoredEvent, principal: Principal) -> bool:
    """Whether ``principal`` may read ``event``: what :meth:`EventLog.read` lets through for it."""
    return (
        event.project_id is None or principal.admin or principal.readable is None or event.project_id in principal.readable
    )


class Tail:
    """The newest events of the log, read (and encoded) once for every socket of the worker."""

    def __init__(self, events: Any, database: Any, keep: int = KEEP, limit: int = READ_LIMIT) -> None:
        self.events, self.database, self.keep, self.limit = events, database, keep, limit
        self._kept: list[Outgoing] = []
        self._seqs: list[int] = []
        #: What is kept is every event numbered in (start, end]; None until the first read.
        self.start: int | None = None
        self.end = 0
        self._reading = anyio.Lock()
        self.reads = 0

    async def read(
        self, after: int, latest: int, principal: Principal, topics: Sequence[str] | None
    ) -> tuple[list[Outgoing], int]:
        """Events numbered after ``after`` (at most ``limit``), and the number up to which none is left out.

        ``latest`` is a number the broker knows committed: every event up to it can be read.
        Events come from what is kept (not yet filtered: see :func:`visible`) or, for a socket
        far behind, from the log filtered for ``principal`` and ``topics``.
        """
        if self.start is None:
            self.start = self.end = after
        if after < self.start:
            self.reads += 1
            found = await self.database(self.events.read, after, self.limit, principal, topics)
            return [outgoing(e) for e in found], (found[-1].seq if len(found) == self.limit else max(latest, after))
        if latest > self.end:
            async with self._reading:  # one read for every socket waiting for the same events
                if latest > self.end:
                    await self._more(latest)
        start = bisect.bisect_right(self._seqs, after)
        slice_ = self._kept[start : start + self.limit]
        return slice_, (slice_[-1].stored.seq if len(slice_) == self.limit else max(after, min(latest, self.end)))

    async def _more(self, latest: int) -> None:
        self.reads += 1
        found = await self.database(self.events.read, self.end, self.limit)
        self._kept.extend(outgoing(e) for e in found)
        self._seqs.extend(event.seq for event in found)
        self.end = found[-1].seq if len(found) == self.limit else max(latest, found[-1].seq if found else self.end)
        extra = len(self._kept) - self.keep
        if extra > 0:
            self.start = self._seqs[extra - 1]
            del self._kept[:extra], self._seqs[:extra]
