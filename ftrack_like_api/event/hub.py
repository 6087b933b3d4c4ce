"""The event hub, in-process: subscribe with an expression, publish, get replies.

``hub.subscribe("topic=ftrack.api.session.construct-entity-type", callback)`` calls
``callback(event)`` for every event published here that the expression matches (see
:mod:`.expression`), highest ``priority`` first (lowest number). ``publish(event,
synchronous=True)`` calls the subscribers now and returns what they returned (None
left out). The connection to a server's hub, for events between processes, comes with
the HTTP server.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
from typing import Any, Callable

from .base import Event
from .expression import Expression, match, parse

__all__ = ["EventHub"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Subscriber:
    id: int
    text: str
    expression: Expression
    callback: Callable[[Event], Any]
    priority: int


class EventHub:
    """Routes published events to the subscribers whose expressions match them."""

    def __init__(self) -> None:
        self._subscribers: list[_Subscriber] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def subscribe(self, subscription: str, callback: Callable[[Event], Any], priority: int = 100) -> int:
        """Call ``callback`` for events ``subscription`` matches; returns an id for :meth:`unsubscribe`."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {callback!r}")
        subscriber = _Subscriber(next(self._ids), subscription, parse(subscription), callback, priority)
        with self._lock:
            self._subscribers.append(subscriber)
            self._subscribers.sort(key=lambda s: (s.priority, s.id))
        return subscriber.id

    def unsubscribe(self, subscriber_id: int) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s.id != subscriber_id]

    def subscriptions(self) -> list[str]:
        """The expressions subscribed, in the order they are called."""
        with self._lock:
            return [s.text for s in self._subscribers]

    def publish(self, event: Event, synchronous: bool = True) -> list[Any]:
        """Deliver ``event`` to every matching subscriber now; what they returned, None left out.

        A subscriber that raises is logged and skipped: one broken plugin does not stop the others.
        """
        if not synchronous:
            raise ValueError("only synchronous publishing is available in-process; the server's hub comes later")
        event.stamp()
        with self._lock:
            subscribers = list(self._subscribers)
        results = []
        for subscriber in subscribers:
            if not match(subscriber.expression, event):
                continue
            try:
                result = subscriber.callback(event)
            except Exception:
                log.exception("subscriber %r failed on %r", subscriber.text, event)
                continue
            if result is not None:
                results.append(result)
        return results
