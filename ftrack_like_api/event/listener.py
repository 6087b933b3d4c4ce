"""Durable listeners: the hub's subscribers fed from a cursor the server keeps, so none misses an event.

::

    session = Session()                                  # FTRACK_SERVER, FTRACK_API_USER, FTRACK_API_KEY
    discover(["plugins"], session)                       # plugins subscribe their callbacks
    Listener(session.event_hub, "supervisor-mail").run() # until stop() (or Ctrl-C in `ftrack-like listen`)

A listener reads the log from its cursor (per user and name, kept on the server) with its
hub's subscriptions, calls the matching callbacks of each event in order, and moves the
cursor past it. Stopped and started again, it goes on where it stopped: what was committed
meanwhile is processed, once, in order. Delivery is at least once: a listener killed
between handling an event and saving its cursor (saved at most every ``save_every``
seconds, and when it stops) sees that event again; the event's ``id`` tells a repeat
(the listener itself skips ids it has handled since it started).

A callback that raises is called again, ``attempts`` times in all, ``backoff`` seconds
doubling between; if it still fails, the event is *parked* on the server with the error
and the listener goes on with the next one. :meth:`Listener.replay` runs parked events
again (``ftrack-like events replay``) and takes off those that go through. A new listener
starts from now, not from the start of the log.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from typing import Any

from ..exceptions import Error, EventHubConnectionError, ExpressionError, ServerError
from .base import Event
from .hub import REPLY_TOPIC, EventHub

__all__ = ["Listener"]

log = logging.getLogger(__name__)


class Listener:
    """Runs ``hub``'s subscribers for the events after listener ``name``'s cursor (see the module's text)."""

    def __init__(self, hub: EventHub, name: str, attempts: int = 3, backoff: float = 0.5, save_every: float = 0.5,
                 remember: int = 10_000) -> None:  # fmt: skip
        if not name:
            raise ValueError("a listener needs a name: its cursor is kept under it")
        if attempts < 1:
            raise ValueError(f"attempts is at least 1, not {attempts}")
        self.hub, self.name = hub, name
        self.attempts, self.backoff, self.save_every = attempts, backoff, save_every
        #: The seq of the last event done (None until the cursor is read).
        self.seq: int | None = None
        #: Events handled, and parked, since the listener started.
        self.handled = 0
        self.parked = 0
        self._done_ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._remember = remember
        self._stop = threading.Event()
        self._stream: Any = None
        self._saved: int | None = None
        self._saved_at = 0.0
        self.started = threading.Event()

    def stop(self) -> None:
        """Stop after the event being handled (from any thread, a signal handler too); :meth:`run` returns."""
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()

    def run(self, after: int | None = None) -> None:
        """Handle events until :meth:`stop`; from the cursor (or ``after``, or now for a new listener)."""
        channel = self.hub.channel
        backoff = 0.1
        while after is None and not self._stop.is_set():  # the server may not be up yet: wait for it
            try:
                self.seq = channel.cursor(self.name)
                break
            except EventHubConnectionError as error:
                log.warning("listener %s: the server does not answer (%s); trying again in %.1f s", self.name, error,
                            backoff)  # fmt: skip
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        else:
            self.seq = after
        backoff = 0.1
        try:
            while not self._stop.is_set():
                try:
                    stream = self._stream = channel.stream(self.seq, self._subscriptions())
                    if self._stop.is_set():
                        stream.close()
                        break
                    for line in stream:
                        if "heartbeat" in line:
                            self.seq = max(self.seq or 0, int(line["heartbeat"]))
                            if self._saved is None:
                                self._save()  # a new listener: its place is now
                            self.started.set()
                        else:
                            self._handle(Event.from_wire(line))
                        self._save(idle="heartbeat" in line)
                        backoff = 0.1
                        if self._stop.is_set():
                            break
                except ExpressionError:
                    raise
                except Error as error:
                    if self._stop.is_set():
                        break
                    log.warning("listener %s: %s; reconnecting from %s in %.1f s", self.name, error, self.seq, backoff)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                finally:
                    self._stream = None
        finally:
            if self.seq is not None:
                try:
                    self._save(idle=True)
                except Error as error:
                    log.error("listener %s: its cursor could not be saved at %s (%s): those events come again", self.name,
                              self.seq, error)  # fmt: skip

    def _subscriptions(self) -> list[tuple[str, Any]]:
        subscriptions = self.hub._wire_subscriptions()
        if not subscriptions:
            raise Error(
                f"listener {self.name}: nothing is subscribed (do the plugins call session.event_hub.subscribe?)"
            )
        return subscriptions

    def _save(self, idle: bool = False) -> None:
        if self.seq is None or self.seq == self._saved:
            return
        if idle or time.monotonic() - self._saved_at >= self.save_every:
            self.hub.channel.set_cursor(self.name, self.seq)
            self._saved, self._saved_at = self.seq, time.monotonic()

    def _handle(self, event: Event) -> None:
        if event["id"] in self._done_ids:
            log.debug("listener %s: %r again; skipped", self.name, event)
        else:
            failures = self.process(event)
            if failures:
                self.park(event, failures)
            self._done_ids[event["id"]] = None
            if len(self._done_ids) > self._remember:
                self._done_ids.popitem(last=False)
            self.handled += 1
        self.seq = event.seq

    def process(self, event: Event) -> list[str]:
        """Call the subscribers ``event`` goes to, each up to ``attempts`` times; the errors of those that kept failing."""
        failures = []
        for subscriber in self.hub.matching(event):
            for attempt in range(1, self.attempts + 1):
                try:
                    result = subscriber.callback(event)
                except Exception:
                    error = traceback.format_exc()
                    log.warning("listener %s: %r failed on %r (attempt %d of %d)", self.name, subscriber.text, event,
                                attempt, self.attempts, exc_info=True)  # fmt: skip
                    if attempt == self.attempts:
                        failures.append(f"{subscriber.text}: {error}")
                    elif self._stop.wait(self.backoff * 2 ** (attempt - 1)):
                        failures.append(f"{subscriber.text}: {error}(stopped before trying again)")
                        break
                    continue
                if result is not None and event["topic"] != REPLY_TOPIC and event["source"].get("id"):
                    reply = Event(REPLY_TOPIC, data=result, source=dict(subscriber.metadata),
                                  target=f"id={event['source']['id']}", in_reply_to_event=event["id"])  # fmt: skip
                    self.hub._prepare(reply)
                    (published,) = self.hub.channel.publish([reply.to_wire()])
                    if isinstance(published, ServerError):
                        log.error("listener %s: the server refused the reply to %s: %s", self.name, event["id"],
                                  published)  # fmt: skip
                break
            if event.is_stopped():
                break
        return failures

    def park(self, event: Event, failures: list[str], attempts: int | None = None) -> None:
        """Park ``event`` on the server with what failed."""
        log.error("listener %s: parked %r (seq %s) after %d attempts", self.name, event, event.seq, self.attempts)
        self.hub.channel.park(
            self.name, int(event.seq or 0), event["id"], "\n".join(failures), attempts or self.attempts
        )
        self.parked += 1

    def replay(self) -> tuple[int, int]:
        """Run this listener's parked events again, oldest first; (how many went through, how many failed again).

        One that goes through is taken off; one that fails again stays, with the new error.
        """
        done = failed = 0
        for parked in self.hub.channel.parked(self.name):
            if parked["event"] is None:
                log.warning("listener %s: parked event %s is no longer in the log; taken off", self.name, parked["seq"])
                self.hub.channel.unpark(self.name, parked["seq"])
                continue
            event = Event.from_wire(parked["event"])
            failures = self.process(event)
            if failures:
                self.park(event, failures, parked["attempts"] + self.attempts)
                failed += 1
            else:
                self.hub.channel.unpark(self.name, parked["seq"])
                done += 1
        return done, failed
