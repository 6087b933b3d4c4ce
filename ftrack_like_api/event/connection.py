"""The hub's link to a server: a reader thread on the log's stream and a sender thread.

The reader opens a stream (:meth:`~.channel.Channel.stream`) with the hub's
subscriptions and hands each event to ``deliver``; when the stream breaks it opens
another, backing off (0.1 s doubling to ``max_backoff``), from the last sequence number it
saw, so nothing is missed and nothing comes twice. When the subscriptions change it opens
a new stream from the same place. The sender posts what is published, in order; while the
server cannot be reached the events wait in memory and go when it can.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from ..exceptions import AuthenticationError, Error, ExpressionError, ServerError
from .channel import Channel, Stream, Subscription

__all__ = ["Connection"]

log = logging.getLogger(__name__)

#: Events sent in one request at most.
SEND_BATCH = 500


class Connection:
    """Keeps a hub connected to ``channel``: see the module's text.

    ``subscriptions()`` says what to stream; ``deliver(wire_event)`` is called on the
    reader thread for each event, in the log's order. ``after`` is where to start (None:
    from now on). ``published(wire_event, result)``, when given, is called on the sender
    thread for each event sent, with its sequence number or the
    :class:`~ftrack_like_api.exceptions.ServerError` that refused it (each event stands
    alone: the others of its batch are published); without it a refusal is logged.
    """

    def __init__(
        self,
        channel: Channel,
        subscriptions: Callable[[], Sequence[Subscription]],
        deliver: Callable[[Mapping[str, Any]], None],
        after: int | None = None,
        max_backoff: float = 10.0,
        published: Callable[[Mapping[str, Any], int | ServerError], None] | None = None,
    ) -> None:
        self.channel = channel
        self.published = published
        self.subscriptions = subscriptions
        self.deliver = deliver
        #: The last sequence number the stream reached (an event's, or a heartbeat's).
        self.seq = after
        self.max_backoff = max_backoff
        self.outbox: collections.deque[dict[str, Any]] = collections.deque()
        self._lock = threading.Condition()
        self._stopped = threading.Event()
        self._connected = threading.Event()
        self._stream: Stream | None = None
        self._restart = False
        self.failure: Exception | None = None
        self._threads = [threading.Thread(target=self._read, name="event-hub-reader", daemon=True),
                         threading.Thread(target=self._send, name="event-hub-sender", daemon=True)]  # fmt: skip

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the stream is open (or the connection stopped); whether it is open."""
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.05):
            if self._stopped.is_set() or time.monotonic() > deadline:
                return False
        return True

    def resubscribe(self) -> None:
        """The subscriptions changed: open a new stream from where this one is."""
        with self._lock:
            self._restart = True
            stream = self._stream
        if stream is not None:
            stream.close()

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        """Queue ``events`` for the server; they go in order, whenever it can be reached."""
        with self._lock:
            self.outbox.extend(events)
            self._lock.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued was sent; whether it was."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.outbox or self._sending:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopped.is_set():
                    return False
                self._lock.wait(min(left, 0.1))
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        with self._lock:
            stream = self._stream
            self._lock.notify_all()
        if stream is not None:
            stream.close()
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)
        self._connected.clear()

    # --- the threads ------------------------------------------------------------------------

    def _read(self) -> None:
        backoff, refused = 0.1, False  # refused: the last try's credentials were (said once, not each try)
        while not self._stopped.is_set():
            try:
                with self._lock:
                    self._restart = False
                stream = self.channel.stream(self.seq, list(self.subscriptions()))
                with self._lock:
                    self._stream = stream
                if self._stopped.is_set():
                    stream.close()
                    break
                self._connected.set()
                refused = False
                closing = None
                for line in stream:
                    if "heartbeat" in line:
                        self.seq = max(self.seq or 0, int(line["heartbeat"]))
                        closing = line.get("closing")
                        if closing:
                            break
                    else:
                        self.deliver(line)
                        self.seq = int(line["seq"])
                    backoff = 0.1
                    if self._restart or self._stopped.is_set():
                        break
                stream.close()
                if closing and not self._stopped.is_set():  # the server stops in order: straight to another
                    log.info("event hub: %s (%s); connecting again from %s", closing, self.channel, self.seq)
                    self._connected.clear()
                    self._stopped.wait(0.1)
                    continue
                if not self._restart and not self._stopped.is_set():
                    raise ConnectionError("the server ended the stream")
            except ExpressionError as error:  # the hub refuses these before they get here
                log.error("the server refused a subscription: %s", error)
                self.failure = error
                self._stopped.set()
            except (Error, ConnectionError, OSError) as error:
                if self._stopped.is_set():
                    break
                if self._connected.is_set():
                    log.warning("event hub: the connection was lost (%s); reconnecting from %s", error, self.seq)
                elif isinstance(error, AuthenticationError) and not refused:
                    log.warning("event hub: the server refused the credentials (%s): sign in again (ftrack-like "
                                "login), or give the Session a reauthenticate callback; trying again", error)  # fmt: skip
                else:
                    log.debug("event hub: cannot connect (%s); again in %.1f s", error, backoff)
                refused = isinstance(error, AuthenticationError)
                self._connected.clear()
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
            finally:
                with self._lock:
                    self._stream = None
        self._connected.clear()

    _sending = False

    def _published(self, event: Mapping[str, Any], result: int | ServerError) -> None:
        if self.published is None:
            if isinstance(result, ServerError):
                log.error("event hub: the server refused the %r event %s: %s", event.get("topic"), event.get("id"),
                          result)  # fmt: skip
            return
        try:
            self.published(event, result)
        except Exception:
            log.exception("event hub: what was to be told of the %r event %s failed", event.get("topic"),
                          event.get("id"))  # fmt: skip

    def _send(self) -> None:
        backoff = 0.1
        while True:
            with self._lock:
                while not self.outbox and not self._stopped.is_set():
                    self._lock.wait()
                if self._stopped.is_set():
                    return
                batch = [self.outbox[i] for i in range(min(SEND_BATCH, len(self.outbox)))]
                self._sending = True
            try:
                results = self.channel.publish(batch)
            except ServerError as refused:  # the request itself: sending it again would be refused again
                results = [refused] * len(batch)
            except Error as error:
                with self._lock:
                    self._sending = False
                log.debug("event hub: publishing failed (%s); %d event(s) kept, again in %.1f s", error,
                          len(self.outbox), backoff)  # fmt: skip
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = 0.1
            for event, result in zip(batch, results):
                self._published(event, result)
            with self._lock:
                for _ in batch:
                    self.outbox.popleft()
                self._sending = False
                self._lock.notify_all()
