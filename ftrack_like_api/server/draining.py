"""A server that is stopping ends what would otherwise hold it up: event streams and hub sockets.

On SIGTERM (or SIGINT) uvicorn stops accepting connections and waits for the open ones to
finish, up to its graceful-shutdown timeout, then cancels them (logging a traceback each).
A batch finishes by itself; an event stream or one of ftrack's hub sockets never does. So
each worker wraps uvicorn's signal handlers while it runs (:meth:`Draining.install`, from
the app's lifespan): the signal starts the draining, which wakes the broker's waiters; each
stream then sends a last heartbeat line that says the server is stopping (``"closing"``)
and ends, and each hub socket closes with code 1012 ("service restart"). Both kinds of
client reconnect — to whichever worker or machine answers — from the last sequence number
they saw, so nothing is missed or delivered twice. A worker's requests in flight are not
touched: uvicorn lets them finish.

In-process servers (:func:`~ftrack_like_api.server.app.serving`, run in a thread, where
signals cannot be caught) call :meth:`Draining.start` before they stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events.broker import Broker

__all__ = ["Draining"]

log = logging.getLogger(__name__)

#: The signals that stop a server (uvicorn's own).
STOPPING = (signal.SIGINT, signal.SIGTERM)
#: What a stream's last line and a hub socket's close say.
REASON = "the server is stopping: connect again"


class Draining:
    """Whether this worker is stopping, and the signal handlers that say so (see the module's text)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._started = threading.Event()
        self._restore: dict[int, Any] = {}

    @property
    def started(self) -> bool:
        """Whether the server is stopping."""
        return self._started.is_set()

    def start(self) -> None:
        """The server is stopping: wake every stream and socket that waits for the log, so they end."""
        if self._started.is_set():
            return
        self._started.set()
        log.info("stopping: ending event streams and hub sockets")
        self.broker.wake()

    def install(self) -> None:
        """Start draining on the signals that stop the server, before uvicorn's own handling of them.

        Only the main thread may set signal handlers: elsewhere (a server run in a thread)
        this does nothing, and whoever stops that server calls :meth:`start`.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for stopping in STOPPING:
            previous = signal.getsignal(stopping)
            if not callable(previous):  # default or ignored: uvicorn is not handling it, leave it be
                continue
            self._restore[stopping] = previous

            def handler(number: int, frame: Any, previous: Any = previous) -> None:
                if loop is not None and loop.is_running():
                    loop.call_soon_threadsafe(self.start)
                else:
                    self.start()
                previous(number, frame)

            signal.signal(stopping, handler)

    def uninstall(self) -> None:
        """Put back the handlers :meth:`install` wrapped (uvicorn restores its own in any case)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for stopping, previous in self._restore.items():
            signal.signal(stopping, previous)
        self._restore.clear()
