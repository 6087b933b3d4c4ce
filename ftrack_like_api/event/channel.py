"""How the event hub reaches a server's event log: a :class:`Channel`, over HTTP or in-process.

A channel carries four things: a stream of the log's events that match some subscriptions,
from a sequence number on (:meth:`Channel.stream`); publishing (:meth:`Channel.publish`);
the cursors durable listeners keep on the server (:meth:`Channel.cursor`,
:meth:`Channel.set_cursor`); and the events a listener parked (:meth:`Channel.park`,
:meth:`Channel.parked`, :meth:`Channel.unpark`). :class:`~.http.HttpChannel` speaks to a server's
``/events`` endpoints with ``requests``; the embedded mode's channel reads the database
itself (:mod:`ftrack_like_api.transport.local`). A transport makes the channel that fits it:
``transport.events()``.

A stream yields dicts: events in the server's shape (``id``, ``topic``, ``data``, ``source``,
``target``, ``sent``, ``inReplyToEvent``, ``seq``), and ``{"heartbeat": seq}`` lines saying the
log was read up to ``seq`` and nothing more matched (a stream opened without ``after`` starts
with one, so the reader knows where "now" is).
"""

from __future__ import annotations

import abc
from typing import Any, Iterator, Mapping, Sequence

from ..exceptions import ServerError

__all__ = ["Channel", "Stream", "Subscription"]

#: A subscription as the server is told it: the expression and the subscriber's metadata
#: (what a targeted event's ``target`` expression is matched against).
Subscription = tuple[str, Mapping[str, Any]]


class Stream(abc.ABC):
    """An open stream of the log: iterate for its lines; :meth:`close` from any thread ends it."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class Channel(abc.ABC):
    """The hub's way to a server's event log (see the module's text)."""

    #: Seconds between heartbeat lines on an idle stream.
    heartbeat: float = 2.0

    @abc.abstractmethod
    def stream(self, after: int | None, subscriptions: Sequence[Subscription]) -> Stream:
        """The events after ``after`` (None: from now on) that one of ``subscriptions`` matches, then live ones.

        Raises :class:`~ftrack_like_api.exceptions.ExpressionError` for a subscription that
        cannot be parsed, :class:`~ftrack_like_api.exceptions.EventHubConnectionError` when the
        server cannot be reached.
        """

    @abc.abstractmethod
    def publish(self, events: Sequence[Mapping[str, Any]]) -> list[int | ServerError]:
        """Append ``events`` (the server's shape) to the log; for each, its sequence number or its refusal.

        Each event stands or falls alone: one the server refuses (a topic only the server
        publishes, a malformed event) is answered by the
        :class:`~ftrack_like_api.exceptions.ServerError` saying why, and the others are
        published. Publishing an event whose id is in the log already changes nothing and
        answers its sequence number: sending again after a lost answer is safe.
        """

    @abc.abstractmethod
    def cursor(self, name: str) -> int | None:
        """The sequence number the durable listener ``name`` (this user's) has done, or None."""

    @abc.abstractmethod
    def set_cursor(self, name: str, seq: int) -> None:
        """Record that listener ``name`` has done every event up to ``seq``."""

    @abc.abstractmethod
    def park(self, name: str, seq: int, event_id: str, error: str, attempts: int) -> None:
        """Put aside event ``seq`` that listener ``name`` could not handle, with the error."""

    @abc.abstractmethod
    def parked(self, name: str | None = None) -> list[dict[str, Any]]:
        """The events this user's listeners parked (``name``'s only, when given), oldest first.

        Each: ``cursor``, ``seq``, ``event_id``, ``error``, ``attempts``, ``parked_at`` and
        ``event`` (the event itself, None when the log no longer holds it).
        """

    @abc.abstractmethod
    def unpark(self, name: str, seq: int) -> None:
        """Take event ``seq`` off listener ``name``'s parked events (it was handled)."""

    def close(self) -> None:  # noqa: B027 - a channel that holds nothing has nothing to close
        """Let go of connections."""
