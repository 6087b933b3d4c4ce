"""The routes of ftrack's hub: ``GET /socket.io/1/`` (the handshake) and its websocket.

The handshake takes the same credentials as ``/api`` and answers socket.io 0.9's
``<session id>:<heartbeat timeout>:<close timeout>:websocket`` (401 without valid
credentials, 429 while a name is throttled); the websocket
``/socket.io/1/websocket/<session id>`` is then a :class:`~.connection.Connection`, fed
from the event log from the moment it opens. A session id that is forged, spent or
expired is refused before the websocket opens (403).
"""

from __future__ import annotations

import datetime
import logging
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from ....auth.permissions import Principal
from ....auth.throttle import Refusal
from ....draining import Draining
from ....engine.backend import Backend
from ....events.listeners import KEPT_PLACE, Listeners
from ....events.tail import Tail
from ....gate import Busy, DatabaseGate
from ..answers import refused
from .connection import Connection
from .sessions import Sessions, Visitor

__all__ = ["EventHub", "HEARTBEAT", "MAX_CONNECTIONS", "TIMEOUT"]

log = logging.getLogger(__name__)

#: Seconds between the server's heartbeats (and its looks at the credentials of each socket).
HEARTBEAT = 25.0

#: The names under which a hub's place is kept while its server restarts (see :meth:`EventHub.keep_place`).
RESUME = KEPT_PLACE
#: How long a kept place waits for its hub to come back.
RESUME_WITHIN = datetime.timedelta(minutes=10)
#: Seconds a client may stay silent (not answering heartbeats) before its socket is closed.
TIMEOUT = 60.0

#: Open sockets one worker serves; one more is told to come back (close code 1013).
MAX_CONNECTIONS = 1000


class EventHub:
    """ftrack's socket.io event hub over one backend's event log."""

    def __init__(
        self,
        backend: Backend,
        database: DatabaseGate,
        heartbeat: float = HEARTBEAT,
        timeout: float = TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        tail: Tail | None = None,
        draining: Draining | None = None,
    ) -> None:
        self.backend, self.database = backend, database
        #: Set when the server stops: each socket then closes with 1012, "service restart".
        self.draining = draining or Draining(backend.broker)
        self.heartbeat, self.timeout, self.max_connections = heartbeat, timeout, max_connections
        self.sessions = Sessions(backend.auth)
        #: The newest events, read once for every socket (and stream) of this worker.
        self.tail = tail or Tail(backend.events, database)
        self.connections: set[Connection] = set()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/socket.io/1/", self.handshake, methods=["GET"]),
            WebSocketRoute("/socket.io/1/websocket/{session_id}", self.websocket),
        ]

    async def handshake(self, request: Request) -> Response:
        """``GET /socket.io/1/``: a session id for the credentials, and what the server expects of the client."""
        address = request.client.host if request.client else ""
        try:
            visitor = await self.database(self.sessions.authenticate, request.headers, address)
        except Refusal as refusal:
            log.info("hub handshake refused: %s", refusal.reason)
            return refused(refusal)
        except Busy as busy:
            return JSONResponse({"exception": "ServerError", "content": str(busy), "error_code": "busy"},
                                status_code=503, headers={"Retry-After": "1"})  # fmt: skip
        seconds = f"{self.timeout:.0f}"
        return PlainTextResponse(f"{self.sessions.issue(visitor)}:{seconds}:{seconds}:websocket")

    async def websocket(self, websocket: WebSocket) -> None:
        """``/socket.io/1/websocket/<session id>``: the session's connection, until either side ends it."""
        if self.draining.started:  # stopping: come back to another worker
            await websocket.close(1012)
            return
        if len(self.connections) >= self.max_connections:
            log.warning("hub refused a socket: %d open already", len(self.connections))
            await websocket.close(1013)
            return
        try:
            visitor, principal, cursor = await self.database(self._open, websocket.path_params["session_id"])
        except Refusal as refusal:
            log.info("hub socket refused: %s", refusal.reason)
            await websocket.close(1008)  # before it is accepted: the client is answered 403
            return
        except Busy:
            await websocket.close(1013)
            return
        broker = self.backend.broker
        await anyio.to_thread.run_sync(broker.start)  # other workers' events: started with the first socket
        connection = Connection(self, websocket, visitor, principal, cursor)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(broker.stop)

    # --- a hub's place, kept while its server restarts ---------------------------------------------

    def keep_place(self, visitor: Visitor, hub_id: str, seq: int) -> None:
        """Keep where the socket of ``hub_id`` was in the log: its next socket, on any server, resumes there."""
        listeners = Listeners(self.backend.engine, self.backend.storage.events)
        listeners.forget_older(RESUME, RESUME_WITHIN)
        listeners.set_cursor(visitor.user_id or visitor.username, RESUME + hub_id, seq)

    def take_place(self, visitor: Visitor, hub_id: str) -> int | None:
        """Where ``hub_id`` was when its server stopped (within :data:`RESUME_WITHIN`), once; else None."""
        listeners = Listeners(self.backend.engine, self.backend.storage.events)
        return listeners.take_cursor(visitor.user_id or visitor.username, RESUME + hub_id, RESUME_WITHIN)  # type: ignore[no-any-return]

    def _open(self, session_id: str) -> tuple[Visitor, Principal, int]:
        """Who the session id was issued to, what they may read, and where the log is now."""
        visitor = self.sessions.redeem(session_id)
        return visitor, self._principal(visitor), self.backend.events.last()

    def visit(self, visitor: Visitor) -> tuple[bool, Principal]:
        """Whether ``visitor``'s credentials still let them in, and what they may read now."""
        return self.sessions.live(visitor), self._principal(visitor)

    def _principal(self, visitor: Visitor) -> Principal:
        with self.backend.engine.connect() as connection:
            return self.backend.permissions.principal(connection, visitor.username, visitor.user_id)

