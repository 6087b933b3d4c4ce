"""Our event hub's endpoints: the log as a stream, publishing, and what durable listeners keep.

- ``GET /events/stream?after=<seq>&subscription=<expr>&subscriber=<json>…`` — newline-delimited
  JSON: the log's events after ``after`` (without it: from now on) that one of the
  subscriptions matches (and whose ``target``, when set, matches that subscription's
  subscriber), in order, each with its ``seq``; then live ones as they commit. While idle,
  a ``{"heartbeat": seq}`` line every ``heartbeat`` seconds (default 5) says the log was
  read up to ``seq``; the first line is one too. When the server stops, the stream ends
  with a last heartbeat line that also has ``"closing"`` (the reason): the client opens a
  new stream from ``seq``, on whichever server answers. The expressions are matched here, so only
  matching events travel; a malformed one is answered 400 with its position. Each stream
  reads the log at its own pace: a slow reader falls behind and catches up from the log,
  never holding up another. The credentials are checked again every few heartbeats: a
  revoked key's stream ends.
- ``POST /events`` — a JSON list of events (ftrack's shape) to publish, in one transaction;
  answers ``{"seq": [...]}``. Each event stands or falls alone: one the server refuses (a
  reserved topic, a malformed event) has ``null`` for its seq and an entry in
  ``"refused"`` (``index``, ``id``, ``topic``, ``exception``, ``error_code``, ``content``),
  and the others are published; when every event is refused the answer is the first
  refusal (403 or 400) with all of them in ``"refused"``. An event whose id is in the log already is not appended
  again: its seq is answered (so sending again after a lost answer is safe). The source's
  ``user`` is who the credentials say. A topic only the server publishes (``ftrack.update``,
  ``ftrack.meta.*`` but replies) is refused, ``PermissionError``
  (:mod:`~ftrack_like_api.server.events.published`).
- ``GET``/``PUT /events/cursors/<name>`` — a durable listener's cursor (``{"seq": n}``), per user.
- ``GET /events/parked[/<name>]``, ``POST /events/parked/<name>`` (``{seq, event_id, error,
  attempts}``), ``DELETE /events/parked/<name>/<seq>`` — events a listener parked.

Same credentials as ``/api``; errors are the same JSON error objects, with a 4xx status.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, AsyncIterator, Mapping

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ....event.expression import Expression, parse, wanted
from ....exceptions import ExpressionError, ValidationError
from ...auth.permissions import PermissionDenied
from ...auth.throttle import Refusal
from ...engine.backend import Backend
from ...events.listeners import MAX_NAME, Listeners
from ...events.log import StoredEvent
from ...events.published import from_client
from ...events.tail import Tail
from ...draining import REASON, Draining
from ...gate import DatabaseGate
from .answers import failure_answer, refused
from .api import _address, _authenticate
from .body import read_body

__all__ = ["EventEndpoints"]

log = logging.getLogger(__name__)

#: Events read from the log at a time by a stream.
READ = 1000
#: Most events one POST publishes, and its largest body.
MAX_EVENTS = 1000
MAX_EVENTS_BODY = 16 * 1024 * 1024
#: Most subscriptions on one stream, and the longest expression.
MAX_SUBSCRIPTIONS = 200
MAX_EXPRESSION = 10_000
#: Heartbeats between two checks that a stream's credentials still hold.
RECHECK = 5


class _Bad(Exception):
    """A request that cannot be answered as asked: the error object to answer with."""

    def __init__(self, content: str, code: str = "bad_request", status: int = 400, **extra: Any) -> None:
        super().__init__(content)
        self.answer = {"exception": "ValidationError", "content": content, "error_code": code, **extra}
        self.status = status


class EventEndpoints:
    """The ``/events`` endpoints over one backend (see the module's text)."""

    def __init__(self, backend: Backend, database: DatabaseGate, heartbeat: float = 5.0,
                 tail: Tail | None = None, draining: Draining | None = None) -> None:  # fmt: skip
        self.backend, self.database, self.heartbeat = backend, database, heartbeat
        #: Set when the server stops: each stream then ends (see :mod:`~ftrack_like_api.server.draining`).
        self.draining = draining or Draining(backend.broker)
        self.listeners = Listeners(backend.engine, backend.storage.events)
        #: The newest events, read (and encoded) once for every stream of this worker.
        self.tail = tail or Tail(backend.events, database)

    def routes(self) -> list[Route]:
        return [
            Route("/events/stream", self.guarded(self.stream), methods=["GET"]),
            Route("/events", self.guarded(self.publish), methods=["POST"]),
            Route("/events/cursors/{name}", self.guarded(self.cursor), methods=["GET", "PUT"]),
            Route("/events/parked", self.guarded(self.parked), methods=["GET"]),
            Route("/events/parked/{name}", self.guarded(self.parked), methods=["GET", "POST"]),
            Route("/events/parked/{name}/{seq:int}", self.guarded(self.unpark), methods=["DELETE"]),
        ]

    def guarded(self, handler: Any) -> Any:
        """``handler`` with the credentials checked first, and every failure a JSON error object."""

        async def endpoint(request: Request) -> Response:
            try:
                user_id, username, how = await self.database(
                    _authenticate, self.backend.auth, request.headers, _address(request)
                )
            except Refusal as refusal:
                return refused(refusal)
            except Exception as failure:
                return failure_answer(request, failure)
            try:
                request.state.how = how  # a key's name or a sign-in: what a published event's source says
                return await handler(request, user_id, username)  # type: ignore[no-any-return]
            except _Bad as bad:
                return JSONResponse(bad.answer, status_code=bad.status)
            except PermissionDenied as denied:
                return JSONResponse({"exception": "PermissionError", "content": str(denied),
                                     "error_code": denied.code or "permission_denied"}, status_code=403)  # fmt: skip
            except ValidationError as invalid:
                return JSONResponse({"exception": "ValidationError", "content": str(invalid),
                                     "error_code": invalid.code or "bad_request"}, status_code=400)  # fmt: skip
            except Exception as failure:
                return failure_answer(request, failure)

        return endpoint

    # --- the stream -----------------------------------------------------------------------------

    async def stream(self, request: Request, user_id: str, username: str) -> Response:
        query = request.query_params
        after = _integer(query.get("after"), "after") if query.get("after") not in (None, "") else None
        heartbeat = self.heartbeat
        if query.get("heartbeat"):
            try:
                heartbeat = min(max(float(query["heartbeat"]), 0.2), 60.0)
            except ValueError:
                raise _Bad(f"heartbeat is a number of seconds, not {query['heartbeat']!r}") from None
        subscriptions = _subscriptions(query.getlist("subscription"), query.getlist("subscriber"))
        principal = await self.database(self._principal, user_id, username)
        if after is None:
            after = await self.database(self.backend.events.last)
        log.info("events stream user=%s after=%s subscriptions=%d", username, after, len(subscriptions))
        return StreamingResponse(self._lines(request, after, subscriptions, principal, heartbeat),
                                 media_type="application/x-ndjson", headers={"Cache-Control": "no-store"})  # fmt: skip

    def _principal(self, user_id: str, username: str) -> Any:
        with self.backend.engine.connect() as connection:
            return self.backend.permissions.principal(connection, username, user_id)

    async def _lines(self, request: Request, after: int, subscriptions: list[tuple[Expression, Mapping[str, Any]]],
                     principal: Any, heartbeat: float) -> AsyncIterator[bytes]:  # fmt: skip
        broker = self.backend.broker
        position = after
        yield _line({"heartbeat": position})
        beat, beats = time.monotonic(), 0
        while True:
            if self.draining.started:
                yield _line({"heartbeat": position, "closing": REASON})
                log.info("events stream user=%s ended at seq %d: the server is stopping", principal.username, position)
                return
            read, position, more = await self.tail.read(position, principal, limit=READ)
            lines = [line for wire, line in (entry.form(_encoded) for entry in read) if wanted(wire, subscriptions)]
            if lines:
                yield b"".join(lines)
                beat = time.monotonic()
            if more:
                continue
            if self.draining.started:  # it may have begun while the log was read: nothing woke this wait
                continue
            left = heartbeat - (time.monotonic() - beat)
            if left > 0 and await broker.wait(position, left) > position:
                continue
            if time.monotonic() - beat >= heartbeat:
                yield _line({"heartbeat": position})
                beat, beats = time.monotonic(), beats + 1
                if beats % RECHECK == 0 and not await self._still_valid(request):
                    log.info("events stream user=%s ended: the credentials no longer hold", principal.username)
                    return

    async def _still_valid(self, request: Request) -> bool:
        try:
            await self.database(_authenticate, self.backend.auth, request.headers, _address(request))
        except Refusal:
            return False
        return True

    # --- publishing -----------------------------------------------------------------------------

    async def publish(self, request: Request, user_id: str, username: str) -> Response:
        body = await read_body(request, MAX_EVENTS_BODY)
        if body is None:
            raise _Bad(f"The body is over {MAX_EVENTS_BODY} bytes", "too_large", 413)
        try:
            events = json.loads(body)
        except ValueError:
            raise _Bad("The body is not JSON: send a list of events") from None
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise _Bad("Send a list of events, each an object with a topic")
        if len(events) > MAX_EVENTS:
            raise _Bad(f"A request publishes at most {MAX_EVENTS} events", "too_large", 413)
        accepted: list[Any] = []
        refusals: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            try:
                accepted.append(self.backend.events.checked(from_client(event, user_id, username, request.state.how)))
            except (PermissionDenied, ValidationError) as error:
                refusals.append(_refusal(index, event, error))
        if refusals:
            log.info("events publish user=%s: %d of %d refused (%s)", username, len(refusals), len(events),
                     "; ".join(f"#{r['index']} {r['error_code']}" for r in refusals))  # fmt: skip
        if not accepted:  # nothing to publish: the (first) refusal is the answer, with its status
            first = refusals[0]
            more = f" ({len(refusals)} events, all refused)" if len(refusals) > 1 else ""
            answer = {key: first[key] for key in ("exception", "error_code")}
            return JSONResponse({**answer, "content": first["content"] + more, "refused": refusals},
                                status_code=403 if first["exception"] == "PermissionError" else 400)  # fmt: skip
        appended = iter(await self.database(self._append, accepted, user_id))
        refused_at = {r["index"] for r in refusals}
        seqs = [None if index in refused_at else next(appended) for index in range(len(events))]
        return JSONResponse({"seq": seqs, "refused": refusals} if refusals else {"seq": seqs})

    def _append(self, events: list[dict[str, Any]], user_id: str) -> list[int]:
        """Append what the log does not hold yet, in one transaction; every event's seq."""
        table = self.backend.events.table
        ids = [str(e["id"]) for e in events if isinstance(e.get("id"), str)]
        with self.backend.engine.connect().execution_options(ftrack_writes=True) as connection:
            try:
                with connection.begin():
                    known = (
                        dict(connection.execute(sa.select(table.c.id, table.c.seq).where(table.c.id.in_(ids))).all())
                        if ids
                        else {}
                    )
                    new = [e for e in events if e.get("id") not in known]
                    appended = iter(self.backend.events.append(connection, new, user_id))
            except sa.exc.IntegrityError:  # the same event sent twice at once: one went in
                raise _Bad("An event with one of these ids was being published at the same time; send again",
                           "duplicate_event", 409) from None  # fmt: skip
        seqs = [int(known[e["id"]]) if e.get("id") in known else next(appended) for e in events]
        if new:
            self.backend.broker.notify(max(seqs))
        return seqs

    # --- durable listeners ----------------------------------------------------------------------

    async def cursor(self, request: Request, user_id: str, username: str) -> Response:
        name = _name(request.path_params["name"])
        if request.method == "PUT":
            given = await _json(request)
            seq = _integer(given.get("seq") if isinstance(given, dict) else None, "seq")
            await self.database(self.listeners.set_cursor, user_id, name, seq)
            return JSONResponse({"name": name, "seq": seq})
        return JSONResponse({"name": name, "seq": await self.database(self.listeners.cursor, user_id, name)})

    async def parked(self, request: Request, user_id: str, username: str) -> Response:
        name = _name(request.path_params["name"]) if "name" in request.path_params else None
        if request.method == "POST":
            given = await _json(request)
            if not isinstance(given, dict) or not isinstance(given.get("event_id"), str):
                raise _Bad('Send {"seq": …, "event_id": …, "error": …, "attempts": …}')
            seq, attempts = _integer(given.get("seq"), "seq"), _integer(given.get("attempts", 1), "attempts")
            await self.database(
                self.listeners.park, user_id, name, seq, given["event_id"], str(given.get("error", "")), attempts
            )
            return JSONResponse({"cursor": name, "seq": seq}, status_code=201)
        return JSONResponse({"parked": await self.database(self.listeners.parked, user_id, name)})

    async def unpark(self, request: Request, user_id: str, username: str) -> Response:
        name, seq = _name(request.path_params["name"]), int(request.path_params["seq"])
        if not await self.database(self.listeners.unpark, user_id, name, seq):
            return JSONResponse({"exception": "NotFoundError", "content": f"{name!r} has no parked event {seq}",
                                 "error_code": "not_found"}, status_code=404)  # fmt: skip
        return JSONResponse({"cursor": name, "seq": seq})


def _encoded(event: StoredEvent) -> tuple[dict[str, Any], bytes]:
    """An event as the streams match it and send it: made once for every stream (see :class:`Tail`)."""
    wire = event.to_wire()
    return wire, _line(wire)


def _line(value: Mapping[str, Any]) -> bytes:
    return (json.dumps(value, separators=(",", ":")) + "\n").encode()


def _subscriptions(expressions: list[str], subscribers: list[str]) -> list[tuple[Expression, Mapping[str, Any]]]:
    if len(expressions) > MAX_SUBSCRIPTIONS:
        raise _Bad(f"A stream takes at most {MAX_SUBSCRIPTIONS} subscriptions", "too_large")
    if subscribers and len(subscribers) != len(expressions):
        raise _Bad("Give one subscriber per subscription, or none")
    made = []
    for position, text in enumerate(expressions):
        if len(text) > MAX_EXPRESSION:
            raise _Bad(f"A subscription is at most {MAX_EXPRESSION} characters", "too_large")
        try:
            expression = parse(text)
        except ExpressionError as error:
            raise _Bad(
                str(error), "bad_expression", expression=text, position=error.position, reason=error.reason
            ) from None
        subscriber: Any = {}
        if subscribers:
            try:
                subscriber = json.loads(subscribers[position])
            except ValueError:
                subscriber = None
            if not isinstance(subscriber, dict):
                raise _Bad(f"subscriber {position + 1} is not a JSON object")
        made.append((expression, subscriber))
    return made


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise _Bad(f"{what} is a whole number, not {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _Bad(f"{what} is a whole number, not {value!r}") from None
    if number < 0 or number >= 2**63:
        raise _Bad(f"{what} is a whole number from 0, not {value!r}")
    return number


def _refusal(index: int, event: Mapping[str, Any], error: Exception) -> dict[str, Any]:
    """What the publisher is told of the event at ``index`` that was refused."""
    denied = isinstance(error, PermissionDenied)
    return {"index": index, "id": event.get("id") if isinstance(event.get("id"), str) else None,
            "topic": event.get("topic") if isinstance(event.get("topic"), str) else None,
            "exception": "PermissionError" if denied else "ValidationError",
            "error_code": getattr(error, "code", None) or ("permission_denied" if denied else "bad_event"),
            "content": str(error)}  # fmt: skip


def _name(name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise _Bad(f"A listener's name is 1 to {MAX_NAME} characters")
    return name


async def _json(request: Request) -> Any:
    body = await read_body(request, 1024 * 1024)
    if body is None:
        raise _Bad("The body is over 1 MB", "too_large", 413)
    try:
        return json.loads(body)
    except ValueError:
        raise _Bad("The body is not JSON") from None
