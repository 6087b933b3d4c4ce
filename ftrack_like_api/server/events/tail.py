"""The newest events of the log, kept in memory so that every reader of one worker reads them once.

When a commit wakes twenty readers (``/events`` streams, ftrack's hub sockets), each would
ask the database for the same event. With a :class:`Tail` the first asks and the others
take the event from memory: one query per commit and worker instead of one per reader. The
tail keeps the newest ``keep`` events; a reader that has fallen behind further than that
reads the log itself (filtered in the database), at its own pace, until it is back within
them.

Each event is kept as an :class:`Entry`, which also keeps the protocols' encodings of it
(:meth:`Entry.form`): the hub's packet or the stream's JSON line is made once for every
reader. What a principal may read is decided by :func:`visible`, the rule of
:meth:`EventLog.read <ftrack_like_api.server.events.EventLog.read>`, here only: readers get
only what their principal may read.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence, TypeVar

import anyio

if TYPE_CHECKING:
    from ..auth.permissions import Principal
    from .log import EventLog, StoredEvent

__all__ = ["Entry", "KEEP", "LIMIT", "Tail", "visible"]

#: Newest events kept for the readers that keep up.
KEEP = 5000
#: Events read from the log at a time.
LIMIT = 1000

T = TypeVar("T")


def visible(event: StoredEvent, principal: Principal | None) -> bool:
    """Whether ``principal`` may read ``event``: what :meth:`EventLog.read` lets through for it.

    An admin, a user of every project (``readable`` None) or no principal at all reads
    everything; anyone else the events of no project and those of the projects they read.
    """
    return (
        principal is None
        or event.project_id is None
        or principal.admin
        or principal.readable is None
        or event.project_id in principal.readable
    )


class Entry:
    """One event of the tail, with the encodings the protocols made of it."""

    __slots__ = ("event", "_forms")

    def __init__(self, event: StoredEvent) -> None:
        self.event = event
        self._forms: dict[Callable[..., Any], Any] | None = None

    @property
    def seq(self) -> int:
        return self.event.seq

    def form(self, encode: Callable[[StoredEvent], T]) -> T:
        """``encode(event)``, made once per ``encode`` (a module-level function) for every reader."""
        forms = self._forms
        if forms is None:
            forms = self._forms = {}
        try:
            return forms[encode]  # type: ignore[no-any-return]
        except KeyError:
            made = forms[encode] = encode(self.event)
            return made


class Tail:
    """The newest events of ``log``, read once for every reader of the worker (see the module's text).

    ``database`` runs a blocking call in a worker thread: ``await database(function, *args)``
    (the server's :class:`~ftrack_like_api.server.gate.DatabaseGate`).
    """

    def __init__(
        self, log: EventLog, database: Callable[..., Awaitable[Any]], keep: int = KEEP, limit: int = LIMIT
    ) -> None:
        self.log, self.database, self.keep, self.limit = log, database, keep, limit
        self._kept: list[Entry] = []
        self._seqs: list[int] = []
        #: What is kept is every event numbered in (start, end]; None until the first read.
        self.start: int | None = None
        self.end = 0
        self._reading = anyio.Lock()
        #: Reads that reached the database.
        self.reads = 0

    async def read(
        self,
        after: int,
        principal: Principal | None,
        latest: int | None = None,
        topics: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> tuple[list[Entry], int, bool]:
        """(events after ``after`` that ``principal`` may read, the seq up to which none is left out, whether more may follow).

        At most ``limit`` events are looked at. ``latest``, when given, is a number the
        broker knows committed (every event up to it can be read): when the tail holds it
        already, the database is not asked. ``topics`` narrows only the reads of a reader
        far behind; events from memory are of every topic (the reader matches them).
        """
        limit = limit or self.limit
        if self.start is None or after > self.end:
            # Nothing kept yet, or a reader ahead of it: keep from here (those behind read for themselves).
            self._kept, self._seqs, self.start, self.end = [], [], after, after
        if after < self.start:
            return await self._behind(after, principal, latest, topics, limit)
        if latest is None or latest > self.end:
            async with self._reading:  # one read for every reader waiting for the same events
                if (after == self.end if latest is None else latest > self.end) and after >= (self.start or 0):
                    await self._more(latest)
            if self.start is not None and after < self.start:  # what was kept moved on meanwhile
                return await self._behind(after, principal, latest, topics, limit)
        index = bisect.bisect_right(self._seqs, after)
        found = self._kept[index : index + limit]
        full = len(found) == limit
        through = found[-1].seq if full else max(after, self.end)
        return [entry for entry in found if visible(entry.event, principal)], through, full

    async def _behind(
        self, after: int, principal: Principal | None, latest: int | None, topics: Sequence[str] | None, limit: int
    ) -> tuple[list[Entry], int, bool]:
        self.reads += 1
        found = await self.database(self.log.read, after, limit, principal, topics)
        full = len(found) == limit
        if full or latest is None:
            through = found[-1].seq if found else after
        else:
            through = max(latest, after)  # the log held nothing more for this reader up to latest
        return [Entry(event) for event in found], through, full

    async def _more(self, latest: int | None) -> None:
        self.reads += 1
        end = self.end
        found = await self.database(self.log.read, end, self.limit)
        if self.end != end:  # a reader ahead of what was kept started it again meanwhile
            return
        self._kept.extend(Entry(event) for event in found)
        self._seqs.extend(event.seq for event in found)
        last = found[-1].seq if found else end
        self.end = last if latest is None or len(found) == self.limit else max(latest, last)
        extra = len(self._kept) - self.keep
        if extra > 0:
            self.start = self._seqs[extra - 1]
            del self._kept[:extra], self._seqs[:extra]
