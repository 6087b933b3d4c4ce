"""The event hub, ftrack's interface: subscribe with an expression, publish, get replies.

::

    hub = session.event_hub
    hub.subscribe("topic=ftrack.update", on_update)        # an expression (see .expression)
    hub.connect()                                          # to the server's event log
    hub.publish(Event("studio.render", data={"frames": 24}), on_reply=print)
    hub.wait(10)                                           # callbacks run here…

Callbacks are called highest ``priority`` (lowest number) first; one may ``event.stop()``
the rest. An event whose ``target`` is set goes only to subscribers whose metadata (the
``subscriber`` mapping, with its ``id``) the target expression matches. A callback that
returns something other than None answers the event: the hub publishes an
``ftrack.meta.reply`` to its source. A callback that raises is logged and the others go on.

Where callbacks run: in :meth:`EventHub.wait`, as ftrack's do — and, while no thread waits,
on the hub's own worker thread, so a program that never calls ``wait()`` (a GUI) gets them
too. One at a time, in the log's order.

``publish(event, synchronous=True)`` calls this process's subscribers at once and returns
what they returned (None left out), without the server: the session's own events (such
as ``ftrack.api.session.construct-entity-type``) go this way. Otherwise the event goes to
the server's log and from there to every hub whose subscriptions match it, this one
included. Connected, the hub resumes after a lost connection from the last sequence
number it saw (backing off between attempts), and keeps what is published meanwhile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, Union, overload

from ..exceptions import EventHubConnectionError, ExpressionError, ServerError
from .base import Event
from .channel import Subscription
from .connection import Connection
from .expression import Expression, match, parse

if TYPE_CHECKING:
    from ..transport import Transport
    from .channel import Channel

__all__ = ["EventHub", "Subscriber"]

log = logging.getLogger(__name__)

REPLY_TOPIC = "ftrack.meta.reply"
#: What :meth:`EventHub.publish` does when the event cannot be published: ``"raise"``,
#: ``"ignore"``, or a callable told ``(event, error)`` when the server refuses it.
OnError = Union[Literal["raise", "ignore"], Callable[[Event, ServerError], Any]]


@dataclasses.dataclass(frozen=True)
class Subscriber:
    """A subscription: its expression, callback, priority and metadata (``id`` among it)."""

    text: str
    expression: Expression
    callback: Callable[[Event], Any]
    priority: int
    metadata: Mapping[str, Any]
    order: int

    @property
    def id(self) -> str:
        return str(self.metadata["id"])


class EventHub:
    """Routes events to the subscribers whose expressions match them (see the module's text).

    ``transport`` is how the session reaches its server: :meth:`connect` asks it for the
    event channel. ``reply_timeout``: seconds an ``on_reply`` callback waits for replies
    before it is forgotten.
    """

    def __init__(self, transport: Transport | None = None, api_user: str | None = None,
                 reply_timeout: float = 600.0) -> None:  # fmt: skip
        #: This hub's id: the ``source.id`` of what it publishes, where replies are sent.
        self.id = uuid.uuid4().hex
        self.transport = transport
        self.api_user = api_user
        self.reply_timeout = reply_timeout
        self._subscribers: list[Subscriber] = []
        self._order = 0
        self._lock = threading.RLock()
        self._incoming: queue.Queue[Event] = queue.Queue()
        self._dispatching = threading.RLock()  # a callback may wait() in turn
        self._waiters = 0
        self._replies: dict[str, tuple[Callable[[Event], Any], float]] = {}
        self._on_error: dict[str, tuple[Event, Callable[[Event, ServerError], Any]]] = {}
        self._connection: Connection | None = None
        self._channel: Channel | None = None
        self._worker: threading.Thread | None = None
        self._closing = threading.Event()

    # --- subscriptions -------------------------------------------------------------------------

    def subscribe(self, subscription: str, callback: Callable[[Event], Any], subscriber: Mapping[str, Any] | None = None,
                  priority: int = 100) -> str:  # fmt: skip
        """Call ``callback(event)`` for the events ``subscription`` matches; the subscriber's id.

        ``subscriber``: metadata for targeted events to match (an ``id`` is made when it has
        none; an id already subscribed is refused). A malformed expression raises
        :class:`~ftrack_like_api.exceptions.ExpressionError` with the position.
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        metadata = dict(subscriber or {})
        metadata.setdefault("id", uuid.uuid4().hex)
        metadata.setdefault("applicationId", "ftrack_like_api")
        expression = parse(subscription)
        with self._lock:
            if any(s.id == metadata["id"] for s in self._subscribers):
                raise ValueError(f"a subscriber with id {metadata['id']!r} is subscribed already")
            self._order += 1
            made = Subscriber(subscription, expression, callback, priority, metadata, self._order)
            self._subscribers = sorted([*self._subscribers, made], key=lambda s: (s.priority, s.order))
            connection = self._connection
        if connection is not None:
            connection.resubscribe()
        return made.id

    def unsubscribe(self, subscriber_id: str) -> None:
        """Remove the subscriber ``subscribe`` answered with; unknown ids raise ``KeyError``."""
        with self._lock:
            kept = [s for s in self._subscribers if s.id != subscriber_id]
            if len(kept) == len(self._subscribers):
                raise KeyError(f"no subscriber with id {subscriber_id!r}")
            self._subscribers = kept
            connection = self._connection
        if connection is not None:
            connection.resubscribe()

    @contextlib.contextmanager
    def subscription(self, subscription: str, callback: Callable[[Event], Any], subscriber: Mapping[str, Any] | None = None,
                     priority: int = 100) -> Iterator[str]:  # fmt: skip
        """:meth:`subscribe` for the ``with`` block: unsubscribed when it ends."""
        identifier = self.subscribe(subscription, callback, subscriber, priority)
        try:
            yield identifier
        finally:
            self.unsubscribe(identifier)

    def get_subscriber_by_identifier(self, identifier: str) -> Subscriber | None:
        with self._lock:
            return next((s for s in self._subscribers if s.id == identifier), None)

    def subscriptions(self) -> list[str]:
        """The expressions subscribed, in the order they are called."""
        with self._lock:
            return [s.text for s in self._subscribers]

    def _wire_subscriptions(self) -> list[Subscription]:
        with self._lock:
            return [(s.text, s.metadata) for s in self._subscribers]

    def matching(self, event: Mapping[str, Any]) -> list[Subscriber]:
        """The subscribers ``event`` goes to, in calling order: its target and their expressions match."""
        target = event.get("target") or ""
        target_expression = None
        if target:
            try:
                target_expression = parse(target)
            except ExpressionError as error:
                log.warning(
                    "event %s has a target that is not an expression (%s); delivered to nobody", event.get("id"), error
                )
                return []
        with self._lock:
            subscribers = list(self._subscribers)
        return [s for s in subscribers
                if (target_expression is None or match(target_expression, s.metadata)) and match(s.expression, event)]  # fmt: skip

    # --- publishing ------------------------------------------------------------------------------

    @overload
    def publish(self, event: Event, synchronous: Literal[True], on_reply: Callable[[Event], Any] | None = None,
                on_error: OnError = "raise") -> list[Any]: ...  # fmt: skip

    @overload
    def publish(self, event: Event, synchronous: bool = False, on_reply: Callable[[Event], Any] | None = None,
                on_error: OnError = "raise") -> list[Any] | None: ...  # fmt: skip

    def publish(self, event: Event, synchronous: bool = False, on_reply: Callable[[Event], Any] | None = None,
                on_error: OnError = "raise") -> list[Any] | None:  # fmt: skip
        """Publish ``event``; with ``synchronous``, call this process's subscribers now and return their answers.

        Otherwise the event goes to the server (queued while the connection is lost) and
        ``on_reply(reply)`` is called for each reply to it until ``reply_timeout``. Without a
        connection, :class:`~ftrack_like_api.exceptions.EventHubConnectionError` is raised —
        or, with ``on_error="ignore"``, the event is dropped.

        The server may refuse the event (a topic only it publishes, such as ``ftrack.update``;
        a malformed event): ``on_error`` may be a callable, called as ``on_error(event,
        error)`` with the :class:`~ftrack_like_api.exceptions.ServerError` once the server
        has refused it (from the hub's sender thread); otherwise the refusal is logged at
        ERROR (and, where the event is sent at once — a durable listener's hub, with no
        connection — raised with ``"raise"``). Other events are never held back by a refused one.
        """
        if not (on_error in ("raise", "ignore") or callable(on_error)):
            raise ValueError(f"on_error is 'raise', 'ignore' or a callable, not {on_error!r}")
        if not isinstance(event, Event):
            raise TypeError(f"publish takes an Event, not {type(event).__name__}")
        self._prepare(event)
        if synchronous:
            return self._handle(event, synchronous=True)
        connection = self._connection
        if connection is None and self._channel is not None:
            # No stream, but a channel (a durable listener's): sent now, from this thread.
            try:
                (result,) = self._channel.publish([event.to_wire()])
            except EventHubConnectionError:
                if on_error == "raise":
                    raise
                return None
            if isinstance(result, ServerError):
                if callable(on_error):
                    on_error(event, result)
                elif on_error == "raise":
                    raise result
            return None
        if connection is None:
            if on_error == "raise":
                raise EventHubConnectionError("The event hub is not connected: call session.event_hub.connect() first")
            log.debug("event hub not connected: %r dropped", event)
            return None
        with self._lock:
            if on_reply is not None:
                self._replies[event["id"]] = (on_reply, time.monotonic() + self.reply_timeout)
            if callable(on_error):
                self._on_error[event["id"]] = (event, on_error)
        connection.send([event.to_wire()])
        return None

    def _published(self, wire: Mapping[str, Any], result: int | ServerError) -> None:
        """The server's answer to a sent event (on the sender thread): a refusal goes to its publisher."""
        with self._lock:
            waiting = self._on_error.pop(str(wire.get("id")), None)
        if not isinstance(result, ServerError):
            return
        if waiting is None:
            log.error("event hub: the server refused the %r event %s: %s", wire.get("topic"), wire.get("id"), result)
            return
        event, on_error = waiting
        try:
            on_error(event, result)
        except Exception:
            log.exception("event hub: on_error failed for the refused %r event %s", wire.get("topic"), wire.get("id"))

    def publish_reply(
        self, source_event: Mapping[str, Any], data: Any, source: Mapping[str, Any] | None = None
    ) -> None:
        """Answer ``source_event`` with ``data``: an ``ftrack.meta.reply`` targeted at its publisher."""
        reply = Event(REPLY_TOPIC, data=data, source=dict(source or {}),
                      target=f"id={source_event['source']['id']}", in_reply_to_event=source_event["id"])  # fmt: skip
        self.publish(reply, on_error="ignore")

    def _prepare(self, event: Event) -> None:
        source = event["source"]
        source.setdefault("id", self.id)
        if self.api_user:
            source.setdefault("user", {"username": self.api_user})
        if not event["sent"]:
            event.stamp()

    # --- delivering ------------------------------------------------------------------------------

    def _handle(self, event: Event, synchronous: bool) -> list[Any]:
        results = []
        for subscriber in self.matching(event):
            try:
                result = subscriber.callback(event)
            except Exception:
                log.exception("subscriber %r failed on %r", subscriber.text, event)
                result = None
            if result is not None:
                results.append(result)
                if not synchronous and event["topic"] != REPLY_TOPIC:
                    self.publish_reply(event, result, source=subscriber.metadata)
            if event.is_stopped():
                break
        return results

    def _on_reply(self, event: Event) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (_, expires) in self._replies.items() if expires < now]:
                del self._replies[key]
            found = self._replies.get(event["in_reply_to_event"] or "")
        if found is not None:
            found[0](event)

    def _receive(self, wire: Mapping[str, Any]) -> None:
        self._incoming.put(Event.from_wire(wire))

    def wait(self, duration: float | None = None) -> None:
        """Call the subscribers of the events that arrive, in this thread, for ``duration`` seconds (None: until disconnected)."""
        deadline = None if duration is None else time.monotonic() + duration
        with self._lock:
            self._waiters += 1
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or (left is None and self._closing.is_set()):
                    break
                self._dispatch_one(0.05 if left is None else min(left, 0.05))
        finally:
            with self._lock:
                self._waiters -= 1

    def _dispatch_one(self, timeout: float) -> bool:
        # Taken and handled under one lock: one event at a time, in the order they came.
        with self._dispatching:
            try:
                event = self._incoming.get(timeout=timeout)
            except queue.Empty:
                return False
            self._handle(event, synchronous=False)
            return True

    def _work(self) -> None:
        while not self._closing.is_set():
            if self._waiters:
                self._closing.wait(0.02)
                continue
            self._dispatch_one(0.05)

    # --- the connection --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the hub is connected to the server's event log now."""
        return self._connection is not None and self._connection.connected

    @property
    def channel(self) -> Channel:
        """The way to the server's event log (made on first use from the session's transport)."""
        with self._lock:
            if self._channel is None:
                events = getattr(self.transport, "events", None)
                if events is None:
                    raise EventHubConnectionError(f"{self.transport!r} carries no events")
                self._channel = events()
            return self._channel

    def connect(self, timeout: float | None = 30.0) -> None:
        """Connect to the server's event log: events published from now on reach the subscribers.

        Waits up to ``timeout`` seconds for the connection (None: returns at once and keeps
        trying in the background); raises
        :class:`~ftrack_like_api.exceptions.EventHubConnectionError` when it cannot be made.
        """
        with self._lock:
            if self._connection is not None:
                raise EventHubConnectionError("The event hub is connected already")
            if not any(s.text == f"topic={REPLY_TOPIC}" and s.id == self.id for s in self._subscribers):
                self._order += 1
                replies = Subscriber(f"topic={REPLY_TOPIC}", parse(f"topic={REPLY_TOPIC}"), self._on_reply, 100,
                                     {"id": self.id, "applicationId": "ftrack_like_api"}, self._order)  # fmt: skip
                self._subscribers = sorted([*self._subscribers, replies], key=lambda s: (s.priority, s.order))
            self._closing.clear()
            connection = self._connection = Connection(self.channel, self._wire_subscriptions, self._receive,
                                                       published=self._published)  # fmt: skip
            self._worker = threading.Thread(target=self._work, name="event-hub-worker", daemon=True)
        connection.start()
        self._worker.start()
        if timeout is not None and not connection.wait_connected(timeout):
            failure = connection.failure
            self.disconnect()
            raise EventHubConnectionError(f"Could not connect the event hub to {self.channel!r} in {timeout:g} s"
                                          + (f": {failure}" if failure else ""))  # fmt: skip

    def disconnect(self, unsubscribe: bool = True, flush: float = 5.0) -> None:
        """Disconnect from the server, after sending what waits to be sent (``flush`` seconds at most)."""
        with self._lock:
            connection, self._connection = self._connection, None
            worker, self._worker = self._worker, None
        if connection is not None:
            connection.flush(flush)
            connection.stop()
        self._closing.set()
        if worker is not None and worker is not threading.current_thread():
            worker.join(5)
        with self._lock:
            channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()

    def __repr__(self) -> str:
        return f"<EventHub {self.id[:8]} {'connected' if self.connected else 'not connected'}>"
