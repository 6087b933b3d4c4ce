"""Turns at the database: a worker runs at most so many database calls at once.

Each call runs in a thread of the gate's own (not anyio's shared 40, which stay free for
everything else), so the event loop answers ``/health`` at once however busy the database
is. A call that waits too long for its turn is :class:`Busy`: the answer is 503 with
``Retry-After``, and the client sends the batch again.
"""

from __future__ import annotations

from typing import Any, Callable

import anyio
import anyio.to_thread
import sqlalchemy as sa

__all__ = ["Busy", "DatabaseGate", "pool_capacity"]

#: Seconds a request waits for a turn at the database before it is answered 503.
WAIT = 10.0


class Busy(Exception):
    """No turn at the database came in time: the answer is 503 with Retry-After."""


class DatabaseGate:
    """At most ``turns`` database calls at once; a call waits at most ``wait`` seconds for a turn."""

    def __init__(self, turns: int, wait: float = WAIT, waited: Callable[[float, bool], None] | None = None) -> None:
        self.turns, self.wait = turns, wait
        #: Told each wait for a turn, in seconds, and whether it ended in :class:`Busy` (the metrics).
        self.waited = waited
        self._gate = anyio.Semaphore(turns)
        self._threads = anyio.CapacityLimiter(turns)

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in one of the gate's threads; :class:`Busy` after waiting ``wait`` s for a turn."""
        started = anyio.current_time() if self.waited is not None else 0.0
        try:
            with anyio.fail_after(self.wait):
                await self._gate.acquire()
        except TimeoutError:
            if self.waited is not None:
                self.waited(anyio.current_time() - started, True)
            raise Busy(f"every one of this worker's {self.turns} database connections stayed busy for {self.wait:g} s") from None
        if self.waited is not None:
            self.waited(anyio.current_time() - started, False)
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=self._threads)
        finally:
            self._gate.release()


def pool_capacity(engine: sa.Engine) -> int:
    """How many connections ``engine``'s pool hands out at most (its size and overflow)."""
    pool = engine.pool
    if isinstance(pool, sa.pool.QueuePool):
        return max(1, pool.size() + max(0, pool._max_overflow))  # noqa: SLF001 - no public reader
    return 8
