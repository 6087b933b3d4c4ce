"""The broker: tells the waiting readers of a process that the log has grown.

A notification only says "read the log": the log is the truth, and a reader that missed
a notification still reads everything on its next turn. One broker per process
(``Backend.broker``); it learns of new events three ways:

- in-process: the backend calls :meth:`Broker.notify` after each commit that appended;
- PostgreSQL: a thread with a connection of its own ``LISTEN``\\ s on :data:`.log.CHANNEL`,
  so every worker hears every other worker's commits (payloads of other schemas of the
  same database are ignored); after a lost connection it reconnects and reads the log's
  last number, so nothing said meanwhile is lost;
- SQLite: a thread reads :meth:`EventLog.last` every :data:`POLL` seconds while anyone
  waits (other processes on the same file append too), and sleeps otherwise.

:meth:`start` and :meth:`stop` run those threads (the server's lifespan does); without
them the broker hears only its own process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

import sqlalchemy as sa

from .log import CHANNEL, EventLog

__all__ = ["Broker"]

log = logging.getLogger(__name__)

#: Seconds between two looks at a SQLite log while someone waits.
POLL = 0.02
#: Seconds the PostgreSQL listener waits before connecting again after losing its connection.
RECONNECT = (0.1, 0.5, 1.0, 2.0, 5.0)
#: How the listening connection names itself to PostgreSQL (``pg_stat_activity``).
APPLICATION_NAME = "ftrack_like_api events broker (pid {})"


class Broker:
    """The highest sequence number this process knows of, and waits for a higher one."""

    def __init__(self, events: EventLog) -> None:
        self.events = events
        self._latest: int | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        #: Futures of coroutines waiting, per event loop.
        self._futures: dict[asyncio.AbstractEventLoop, set[asyncio.Future[None]]] = {}
        self._waiting = 0
        self._wanted = threading.Event()  # someone waits (SQLite's poller looks)
        self._stopping = threading.Event()
        self._ready = threading.Event()  # the thread hears others (PostgreSQL: it LISTENs)
        self._thread: threading.Thread | None = None
        self._starts = 0
        self._wakes = 0  # how many times wake() was called: a waiter woken by it returns

    # --- running ------------------------------------------------------------------------------

    def start(self, ready: float = 10.0) -> None:
        """Hear other processes (a thread); several starts need as many stops.

        Waits up to ``ready`` seconds for the thread to hear them (PostgreSQL: LISTENing),
        so what another process commits once this returns wakes this one's readers.
        """
        with self._lock:
            self._starts += 1
            if self._thread is not None:
                return
            self._stopping.clear()
            self._ready.clear()
            postgresql = self.events.engine.dialect.name == "postgresql"
            target = self._listen if postgresql else self._poll
            self._thread = threading.Thread(target=target, name="ftrack-like events broker", daemon=True)
        self.latest()
        self._thread.start()
        if not self._ready.wait(ready):
            log.warning("events broker: not hearing other processes yet after %g s (still trying)", ready)

    def stop(self) -> None:
        """Stop hearing other processes once every :meth:`start` has its stop."""
        with self._lock:
            self._starts = max(0, self._starts - 1)
            thread = self._thread
            if self._starts or thread is None:
                return
            self._thread = None
            self._stopping.set()
            self._wanted.set()
        thread.join(timeout=10)

    def close(self) -> None:
        """Stop hearing other processes now, whatever starts are left (the backend is closing)."""
        with self._lock:
            self._starts = 1 if self._thread is not None else 0
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None

    # --- what is known ------------------------------------------------------------------------

    def latest(self) -> int:
        """The highest sequence number known to be committed (read from the log the first time)."""
        latest = self._latest
        if latest is None:
            found = self.events.last()
            with self._lock:
                if self._latest is None or found > self._latest:
                    self._latest = found
                latest = self._latest
        return latest

    def notify(self, seq: int) -> None:
        """``seq`` is committed: wake whoever waits for it."""
        with self._lock:
            if self._latest is not None and seq <= self._latest:
                return
            self._latest = seq
            self._changed.notify_all()
            woken, self._futures = self._futures, {}
        for loop, futures in woken.items():
            try:
                loop.call_soon_threadsafe(_resolve, futures)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                pass

    def wake(self) -> None:
        """Wake whoever waits, though nothing new was committed (the server is stopping: they look why)."""
        with self._lock:
            self._wakes += 1
            self._changed.notify_all()
            woken, self._futures = self._futures, {}
        for loop, futures in woken.items():
            try:
                loop.call_soon_threadsafe(_resolve, futures)
            except RuntimeError:
                pass

    # --- waiting ------------------------------------------------------------------------------

    async def wait(self, after: int, timeout: float) -> int:
        """The latest number once it is greater than ``after``, or at ``timeout`` (seconds), or when woken."""
        latest = self.latest()
        if latest > after:
            return latest
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        wakes = self._wakes
        self._want(1)
        try:
            while True:
                future: asyncio.Future[None] = loop.create_future()
                with self._lock:
                    if self._latest is not None and self._latest > after:
                        return self._latest
                    if self._wakes != wakes:
                        break
                    self._futures.setdefault(loop, set()).add(future)
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    await asyncio.wait_for(future, left)
                except asyncio.TimeoutError:
                    break
                finally:
                    with self._lock:
                        waiting = self._futures.get(loop)
                        if waiting is not None:
                            waiting.discard(future)
        finally:
            self._want(-1)
        return self.latest()

    def wait_blocking(self, after: int, timeout: float) -> int:
        """:meth:`wait` for threads."""
        latest = self.latest()
        if latest > after:
            return latest
        deadline = time.monotonic() + timeout
        self._want(1)
        try:
            with self._changed:
                wakes = self._wakes
                while (self._latest is None or self._latest <= after) and self._wakes == wakes:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
                return self._latest if self._latest is not None else 0
        finally:
            self._want(-1)

    def _want(self, change: int) -> None:
        with self._lock:
            self._waiting += change
            if self._waiting > 0:
                self._wanted.set()
            else:
                self._wanted.clear()

    # --- hearing other processes --------------------------------------------------------------

    def _poll(self) -> None:
        """SQLite: look at the log while anyone waits."""
        engine = sa.create_engine(self.events.engine.url, poolclass=sa.pool.StaticPool)
        self._ready.set()
        try:
            while not self._stopping.is_set():
                self._wanted.wait()
                if self._stopping.is_set():
                    break
                try:
                    with engine.connect() as connection:
                        self.notify(self.events.last(connection))
                except sa.exc.DBAPIError as error:  # a busy or vanished file: try again shortly
                    log.warning("events broker: cannot read the log: %s", error.orig)
                self._stopping.wait(POLL)
        finally:
            engine.dispose()

    def _listen(self) -> None:
        """PostgreSQL: LISTEN on a connection of its own, connecting again when it is lost."""
        import psycopg

        url = self.events.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        failures = 0
        while not self._stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True, application_name=APPLICATION_NAME.format(os.getpid())) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    schema = connection.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
                    # Whatever was committed before the LISTEN (or while disconnected) counts too.
                    last = connection.execute(f"SELECT coalesce(max(seq), 0) FROM {self.events.table.name}").fetchone()
                    self.notify(int(last[0]))  # type: ignore[index]
                    failures = 0
                    self._ready.set()
                    prefix = f"{schema}:"
                    while not self._stopping.is_set():
                        for note in connection.notifies(timeout=0.5):
                            if note.payload.startswith(prefix):
                                self.notify(int(note.payload[len(prefix):]))
            except psycopg.errors.UndefinedTable as error:  # the studio was removed under us: nothing to hear
                log.error("events broker: the event log is gone (%s); not listening any more", " ".join(str(error).split()))
                break
            except (psycopg.Error, OSError) as error:
                if self._stopping.is_set():
                    break
                pause = RECONNECT[min(failures, len(RECONNECT) - 1)]
                failures += 1
                log.warning("events broker: the listening connection failed (%s); connecting again in %g s",
                            " ".join(str(error).split()), pause)  # fmt: skip
                self._stopping.wait(pause)


def _resolve(futures: Any) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
