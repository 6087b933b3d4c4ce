"""A connection's subscribers, and which events they want: evaluated here, so only those travel.

ftrack's client tells the server of each subscriber it registers (``ftrack.meta.subscribe``
with the subscriber's metadata and its subscription expression) and routes what arrives
to its callbacks itself. So the server sends an event to a connection once when any of its
subscribers wants it: the subscription matches the event, and the event's ``target`` (an
expression too, ``id=<hub id>`` for a reply) matches the subscriber's metadata.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from .....event.expression import And, Condition, Expression, Or, parse, wanted

__all__ = ["MAX_SUBSCRIBERS", "Subscriber", "SubscriberError", "Subscribers", "topics_of"]

#: Subscribers one connection may hold: each is evaluated against every event.
MAX_SUBSCRIBERS = 1000


class SubscriberError(Exception):
    """A subscribe or unsubscribe that cannot be done: the message says why."""


@dataclasses.dataclass(frozen=True)
class Subscriber:
    """One subscriber of a connection: its metadata (``id`` and what else the client says) and expression."""

    id: str
    metadata: dict[str, Any]
    subscription: str
    expression: Expression


class Subscribers:
    """The subscribers of one connection."""

    def __init__(self, limit: int = MAX_SUBSCRIBERS) -> None:
        self.limit = limit
        self._by_id: dict[str, Subscriber] = {}
        self._topics: frozenset[str] | None = frozenset()

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, metadata: Any, subscription: Any) -> Subscriber:
        """Add a subscriber (the same one again is no change); :class:`~ftrack_like_api.exceptions.ExpressionError`
        for an expression that does not parse (it says where), :class:`SubscriberError` for anything
        else amiss (another subscriber with the id of one the connection has)."""
        if not isinstance(metadata, Mapping) or not isinstance(metadata.get("id"), str) or not metadata["id"]:
            raise SubscriberError('A subscriber is a mapping with an "id" (text)')
        if not isinstance(subscription, str):
            raise SubscriberError("A subscription is an expression (text)")
        identifier = metadata["id"]
        known = self._by_id.get(identifier)
        if known is not None:
            if known.subscription == subscription and known.metadata == metadata:
                # ftrack's client sends a subscriber made while it connects twice (its resubscribe
                # and its queue): the same subscriber again changes nothing.
                return known
            raise SubscriberError(f"Subscriber with identifier {identifier} already exists.")
        if len(self._by_id) >= self.limit:
            raise SubscriberError(f"A connection holds at most {self.limit} subscribers")
        subscriber = Subscriber(identifier, dict(metadata), subscription, parse(subscription))
        self._by_id[identifier] = subscriber
        self._topics = _union(self._topics, topics_of(subscriber.expression))
        return subscriber

    def remove(self, metadata: Any) -> Subscriber:
        """Remove the subscriber whose id ``metadata`` names; :class:`SubscriberError` when there is none."""
        identifier = metadata.get("id") if isinstance(metadata, Mapping) else None
        subscriber = self._by_id.pop(identifier, None) if isinstance(identifier, str) else None
        if subscriber is None:
            raise SubscriberError(f"No subscriber with identifier {identifier!r} to unsubscribe")
        self._topics = frozenset()
        for left in self._by_id.values():
            self._topics = _union(self._topics, topics_of(left.expression))
        return subscriber

    @property
    def topics(self) -> frozenset[str] | None:
        """The topics any subscriber may want (the log is read for those only); None: any topic."""
        return self._topics

    def wants(self, event: Mapping[str, Any]) -> bool:
        """Whether any subscriber wants ``event`` (its subscription and the event's target both match)."""
        # An event aimed at nobody it can name is wanted by none (ftrack's client drops it too).
        return wanted(event, ((subscriber.expression, subscriber.metadata) for subscriber in self._by_id.values()))


def topics_of(expression: Expression) -> frozenset[str] | None:
    """The topics an event must have to match ``expression`` (``topic=a``), or None when it may have any."""
    if isinstance(expression, Condition):
        exact = expression.key == ("topic",) and expression.operator == "=" and not expression.prefix
        return frozenset([expression.value]) if exact else None
    if isinstance(expression, And):
        narrowed = [t for t in (topics_of(o) for o in expression.operands) if t is not None]
        return min(narrowed, key=len) if narrowed else None
    if isinstance(expression, Or):
        each = [topics_of(o) for o in expression.operands]
        return None if any(t is None for t in each) else frozenset().union(*each)  # type: ignore[arg-type]
    return None  # not: anything but


def _union(topics: frozenset[str] | None, more: frozenset[str] | None) -> frozenset[str] | None:
    return None if topics is None or more is None else topics | more
