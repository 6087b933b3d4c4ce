"""The newest events of the log, kept in memory so that many streams of one worker read it once.

When a commit wakes twenty streams, each would ask the database for the same event. With
:class:`RecentEvents` the first asks, and the others take the event from memory: one query
per commit and worker instead of one per stream. A stream that has fallen behind further
than what is kept reads the database itself, at its own pace.

What a principal may read is filtered here as :meth:`EventLog.read
<ftrack_like_api.server.events.EventLog.read>` filters it: an admin, or a user of every
project, reads everything; anyone else the events of no project and of the projects they
read.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

from ...events import EventLog, StoredEvent

__all__ = ["RecentEvents"]


class RecentEvents:
    """The last ``size`` events of ``log`` read by anyone, in order (see the module's text)."""

    def __init__(self, log: EventLog, size: int = 5000) -> None:
        self.log, self.size = log, size
        self._events: list[StoredEvent] = []
        self._seqs: list[int] = []
        #: What is kept covers every event with lo < seq <= hi (None: nothing yet).
        self._lo: int | None = None
        self._hi = 0
        self._lock = threading.Lock()

    def read(self, after: int, limit: int, principal: Any) -> tuple[list[StoredEvent], int, bool]:
        """(the events after ``after`` that ``principal`` may read, the seq read up to, whether more may follow).

        Runs in a worker thread: it may query the database.
        """
        with self._lock:
            if self._lo is not None and self._lo <= after <= self._hi:
                if after == self._hi:  # up to date: one asks the database for what is new, the rest wait for it
                    found = self.log.read(after, limit)
                    self._keep(after, found)  # (what is kept may now start past some of found)
                    return _readable(found, principal), found[-1].seq if found else after, len(found) == limit
                return self._served(after, limit, principal)
        # Behind what is kept, ahead of it, or nothing kept yet: a read of its own, outside the lock.
        found = self.log.read(after, limit)
        with self._lock:
            if self._lo is None or after > self._hi:  # start keeping from here (those behind read for themselves)
                self._events, self._seqs, self._lo, self._hi = [], [], after, after
            self._keep(after, found)
        return _readable(found, principal), found[-1].seq if found else after, len(found) == limit

    def _served(self, after: int, limit: int, principal: Any) -> tuple[list[StoredEvent], int, bool]:
        start = bisect.bisect_right(self._seqs, after)
        found = self._events[start : start + limit]
        full = len(found) == limit
        return _readable(found, principal), found[-1].seq if full else self._hi, full

    def _keep(self, after: int, found: list[StoredEvent]) -> None:
        if after != self._hi:
            return  # not contiguous with what is kept
        self._events.extend(found)
        self._seqs.extend(event.seq for event in found)
        if found:
            self._hi = found[-1].seq
        if len(self._events) > self.size:
            cut = len(self._events) - self.size
            self._lo = self._seqs[cut - 1]
            del self._events[:cut], self._seqs[:cut]


def _readable(events: list[StoredEvent], principal: Any) -> list[StoredEvent]:
    if principal is None or principal.admin or principal.readable is None:
        return events
    readable = principal.readable
    return [event for event in events if event.project_id is None or event.project_id in readable]
