"""Live pages: the event log as Server-Sent Events for the page's script, and the Activity page.

``GET /web/live?after=<seq>&subscription=<expression>`` streams the log's events after
``after`` (or ``Last-Event-ID``, which the browser's EventSource sends when it reconnects;
without either, from now on) that the visitor may read — the log's own rule, the one every
other reader of the log has (:func:`~..events.tail.visible`) — and that the subscription
expression (default ``topic=ftrack.update``) matches. Each is one ``update`` message: its
seq as the message's id, and a short summary (topic, who, which entities and their
parents, which attributes changed, their new values shortened) as JSON, which the script shows with ``textContent``,
never as markup. A comment line every :data:`HEARTBEAT` seconds keeps proxies from closing
the stream; the visitor's sign-in is checked again every few, and a signed-out stream ends.

The Activity page lists the newest matching events and, with the script, adds new ones as
they come.
"""

from __future__ import annotations

import json
import time
from typing import Any, AsyncIterator, Mapping

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ....event.expression import Expression, match, parse
from ....exceptions import ExpressionError
from ...auth.throttle import Refusal
from ...draining import Draining
from ...engine.backend import Backend
from ...events.log import StoredEvent
from ...events.tail import Tail
from ...gate import DatabaseGate
from .reads import Reads
from .rendering import Renderer

__all__ = ["HEARTBEAT", "Live", "summary"]

#: Seconds between two keep-alive comments of an idle stream.
HEARTBEAT = 15.0
#: Heartbeats between two checks that the visitor is still signed in.
RECHECK = 4
#: Events the Activity page shows when it opens; the longest value a summary shows.
RECENT, SHOWN_VALUE = 100, 120
#: What a page listens to unless told otherwise.
DEFAULT_SUBSCRIPTION = "topic=ftrack.update"
MAX_EXPRESSION = 2000


class Live:
    """``/web/live`` and ``/web/activity``."""

    def __init__(self, renderer: Renderer, reads: Reads, backend: Backend, database: DatabaseGate, tail: Tail,
                 draining: Draining) -> None:  # fmt: skip
        self.renderer, self.reads, self.backend, self.database = renderer, reads, backend, database
        self.tail, self.draining = tail, draining

    async def stream(self, request: Request) -> Response:
        visitor = request.state.visitor
        expression, problem = _subscription(request.query_params.get("subscription"))
        if expression is None:
            return Response(problem, status_code=400, media_type="text/plain; charset=utf-8")
        given = request.headers.get("last-event-id") or request.query_params.get("after") or ""
        after = int(given) if given.isdigit() and len(given) < 19 else await self.database(self.backend.events.last)
        principal = await self.database(self._principal, visitor.user_id, visitor.username)
        return StreamingResponse(self._messages(after, expression, principal, visitor.token),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})  # fmt: skip

    async def activity(self, request: Request) -> Response:
        visitor = request.state.visitor
        text = request.query_params.get("subscription") or DEFAULT_SUBSCRIPTION
        expression, problem = _subscription(text)
        events: list[dict[str, Any]] = []
        last = await self.database(self.backend.events.last)
        if expression is not None:
            principal = await self.database(self._principal, visitor.user_id, visitor.username)
            read, _, _ = await self.tail.read(max(0, last - 1000), principal, limit=1000)
            events = [summary(entry.event) for entry in read if match(expression, entry.event.to_wire())][-RECENT:][::-1]
        return self.renderer.page(request, "activity.html", {"subscription": text, "problem": problem, "events": events,
                                                             "last": last}, 400 if problem else 200)  # fmt: skip

    def _principal(self, user_id: str, username: str) -> Any:
        with self.backend.engine.connect() as connection:
            return self.backend.permissions.principal(connection, username, user_id)

    async def _messages(self, after: int, expression: Expression, principal: Any, token: str) -> AsyncIterator[bytes]:
        position, beats = after, 0
        yield f"retry: 2000\nid: {position}\n\n".encode()
        beat = time.monotonic()
        while not self.draining.started:
            read, position, more = await self.tail.read(position, principal, limit=500)
            messages = [_message(entry.event) for entry in read if match(expression, entry.event.to_wire())]
            if messages:
                yield b"".join(messages)
                beat = time.monotonic()
            if more:
                continue
            left = HEARTBEAT - (time.monotonic() - beat)
            if left > 0 and await self.backend.broker.wait(position, left) > position:
                continue
            if time.monotonic() - beat >= HEARTBEAT:
                yield f": {position}\n\n".encode()
                beat, beats = time.monotonic(), beats + 1
                if beats % RECHECK == 0 and not await self._signed_in(token):
                    return

    async def _signed_in(self, token: str) -> bool:
        try:
            await self.database(self.backend.auth.verify_token, token)  # type: ignore[union-attr]
        except Refusal:
            return False
        return True


def _subscription(text: str | None) -> tuple[Expression | None, str | None]:
    """The expression of ``text`` (default :data:`DEFAULT_SUBSCRIPTION`), or None and what is wrong with it."""
    text = text or DEFAULT_SUBSCRIPTION
    if len(text) > MAX_EXPRESSION:
        return None, f"A subscription is at most {MAX_EXPRESSION} characters"
    try:
        return parse(text), None
    except ExpressionError as error:
        return None, str(error)


def summary(event: StoredEvent) -> dict[str, Any]:
    """What a page shows of an event: its seq, topic, time, who, and the entities it changed (new values shortened)."""
    data = event.data if isinstance(event.data, Mapping) else {}
    user = (event.source or {}).get("user") or {}
    entities = []
    for entity in data.get("entities") or ():
        if not isinstance(entity, Mapping):
            continue
        changes: Mapping[str, Any] = entity["changes"] if isinstance(entity.get("changes"), Mapping) else {}
        entities.append({
            "type": str(entity.get("entity_type") or entity.get("entityType") or ""),  # ours (Note), not ftrack's (note)
            "id": str(entity.get("entityId") or ""),
            "parent": str(entity.get("parentId") or ""),
            "action": str(entity.get("action") or ""),
            "changes": {str(key): _short((value or {}).get("new") if isinstance(value, Mapping) else value)
                        for key, value in changes.items()},
        })  # fmt: skip
    return {"seq": event.seq, "topic": event.topic, "at": event.sent.isoformat(timespec="seconds") if event.sent else "",
            "user": str(user.get("username") or "") if isinstance(user, Mapping) else "", "entities": entities}  # fmt: skip


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def _message(event: StoredEvent) -> bytes:
    data = json.dumps(summary(event), separators=(",", ":"))
    return f"id: {event.seq}\nevent: update\ndata: {data}\n\n".encode()
