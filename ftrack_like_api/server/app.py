"""The HTTP server: ftrack's JSON API on ``POST /api``, its event hub on ``/socket.io/1/``, ``/health`` and ``/ready``.

ShotGrid's ``POST /api3/json`` is mounted beside them (``protocols/shotgrid``), Aquarium's
``/v1/…`` and Lagoon's ``/lagoon/v1/…`` (``protocols/aquarium``), and the web page people use
in a browser at ``/`` and ``/web/…`` (``protocols/web``).

An ASGI app (starlette); ``ftrack-like serve`` runs it under uvicorn. It keeps nothing
in memory between requests that another worker would need: run several against one
PostgreSQL and they agree.

``POST /api`` takes a JSON list of operations with ``ftrack-user`` and
``ftrack-api-key`` headers (or ``Authorization: Bearer <token>`` from ``POST /signin``) and
answers a list of results, or one error object. With
``ftrack-strict-api: true`` an error comes with a 4xx/5xx status; without, with 200, as
ftrack's server does. A body in gzip (``Content-Encoding: gzip``) is read, and answers
are gzipped for clients that accept it. ``ftrack-idempotency-key`` makes a retried batch
that writes run once. Limits (body size, operations per batch, and the backend's time per batch) are clear
errors, not crashes: a batch past the time limit is stopped in the database and rolled back.

Bad input is a 4xx error object saying what is wrong; anything unexpected is a
``ServerError`` object with an ``error_id`` that names the log line holding the details —
never a traceback, SQL or a plain-text 500. Each worker runs at most ``concurrency``
database calls at once (the size of its connection pool); a request that waits longer than
``wait`` seconds for one, or finds the pool exhausted, is answered 503 with ``Retry-After``.
Answers are written as a stream, a slice of rows at a time.
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import threading
import time
from typing import Any, AsyncIterator, Iterator

import anyio
import anyio.to_thread
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .engine.backend import Backend
from .draining import Draining
from .ops.logs import request_ids
from .ops.metrics import Metrics
from .events.lifespan import events_running
from .events.retention import RETAINED
from .events.tail import Tail
from .files.settings import cleaning
from .gate import WAIT, DatabaseGate, pool_capacity
from .protocols.ftrack.hub import HEARTBEAT, MAX_MESSAGE, TIMEOUT, EventHub
from .protocols.ftrack import FtrackApi
from .protocols.ftrack.answers import log_failure
from .protocols.ftrack.api import IDEMPOTENCY_WAIT
from .protocols.ftrack.body import MAX_BODY, MAX_OPERATIONS
from .protocols.ftrack.events import EventEndpoints
from .protocols.ftrack.files import FileRoutes
from .protocols.ftrack.thumbnails import ThumbnailRoutes
from .protocols.ftrack.widgets import WidgetRoutes
from .protocols.ftrack.widgets import register as register_widgets
from .protocols.ftrack.security_roles import register as register_security_roles
from .protocols.ftrack.invites import register as register_invites
from .protocols.shotgrid.api import ShotgridApi
from .protocols.aquarium.api import AquariumApi
from .protocols.aquarium.lagoon import LagoonApi
from .protocols.web import WebPages

__all__ = ["create_app", "listening_socket", "serving"]


def create_app(
    backend: Backend,
    max_body: int = MAX_BODY,
    max_operations: int = MAX_OPERATIONS,
    idempotency_wait: float = IDEMPOTENCY_WAIT,
    concurrency: int | None = None,
    wait: float = WAIT,
    event_retention: datetime.timedelta | None = RETAINED,
    heartbeat: float = HEARTBEAT,
    heartbeat_timeout: float = TIMEOUT,
    metrics_token: str | None = None,
) -> Starlette:
    """The ASGI app serving ``backend``: ftrack's API, ``/health`` and ``/ready``.

    A request whose idempotency key another request is running waits up to
    ``idempotency_wait`` seconds for that answer, then is told to come back (409).
    ``concurrency`` (default: what the backend's connection pool holds) caps the database
    calls this worker runs at once; a request waits at most ``wait`` seconds for a turn.
    While it runs (its lifespan), the event broker hears other workers and events older than
    ``event_retention`` are pruned (None: kept forever).
    ftrack's event hub (socket.io, ``/socket.io/1/``) sends a heartbeat every ``heartbeat``
    seconds and closes a socket silent for ``heartbeat_timeout``. ``/metrics`` answers
    administrators and ``Bearer <metrics_token>`` (default ``$FTRACK_LIKE_METRICS_TOKEN``).
    """
    metrics = Metrics(backend, metrics_token)
    gate = DatabaseGate(concurrency if concurrency is not None else pool_capacity(backend.engine), wait,
                        waited=metrics.waited)  # fmt: skip
    ftrack = FtrackApi(backend, gate, max_body, max_operations, idempotency_wait)
    tail = Tail(backend.events, gate)  # the newest events, read once for the worker's streams and sockets
    draining = Draining(backend.broker)  # when the server stops, its streams and sockets end
    events = EventEndpoints(backend, gate, tail=tail, draining=draining)
    probe = _Probe(backend)
    hub = EventHub(backend, gate, heartbeat, heartbeat_timeout, tail=tail, draining=draining)
    files = FileRoutes(backend, gate)  # the server location's files: upload, get, remove
    thumbnails = ThumbnailRoutes(backend, gate)
    register_widgets(backend)  # ftrack's get_widget_url, and the pages its links show
    register_security_roles(backend)  # ftrack's add_user_security_role … (administrators)
    register_invites(backend)  # ftrack's invitations by mail: refused, saying what to do
    widgets = WidgetRoutes(backend)
    shotgrid = ShotgridApi(backend, gate)  # ShotGrid's /api3/json
    aquarium = AquariumApi(backend, gate)  # Aquarium's /v1/ and /files/
    lagoon = LagoonApi(backend, gate, aquarium.calls)  # Lagoon's /lagoon/v1/
    web = WebPages(backend, gate, tail, draining)  # the browser's pages: / and /web/…

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def ready(request: Request) -> Response:
        # A connection of its own, not the pool's: it answers at once however busy the batches keep the pool.
        try:
            await anyio.to_thread.run_sync(probe.check, limiter=probe.threads)
        except Exception as failure:  # the database is the one thing this checks
            error_id = log_failure(failure, "ready: the database does not answer")
            return JSONResponse({"status": "not ready", "reason": "the database does not answer",
                                 "error_id": error_id}, status_code=503)  # fmt: skip
        return JSONResponse({"status": "ready"})

    async def scrape(request: Request) -> Response:
        allowed, reason = await gate(metrics.allows, request.headers, request.client.host if request.client else "")
        if not allowed:
            return JSONResponse({"exception": "PermissionError", "content": reason, "error_code": "permission"},
                                status_code=403, headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        body = await gate(metrics.exposition)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        draining.install()
        try:
            async with events_running(backend, event_retention), cleaning(backend):
                yield
        finally:
            draining.uninstall()

    app = Starlette(
        routes=[*ftrack.routes(), *files.routes(), *thumbnails.routes(), *widgets.routes(), *shotgrid.routes(), *events.routes(),
                *aquarium.routes(), *lagoon.routes(),
                *hub.routes(), Route("/health", health), Route("/ready", ready), Route("/metrics", scrape),
                *web.routes()],
        # Level 1: a JSON answer shrinks nearly as much as at 9 (Starlette's default), at a quarter of the CPU.
        middleware=[Middleware(request_ids), Middleware(metrics.middleware),
                    Middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)],
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.concurrency = gate.turns
    app.state.hub = hub
    app.state.draining = draining
    return app


class _Probe:
    """``/ready``'s look at the database: a connection of its own each time, in its own two threads."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.threads = anyio.CapacityLimiter(2)
        self._engine: sa.Engine | None = None

    def check(self) -> None:
        """Read the database's own record of its schema; raises when the database cannot."""
        if self._engine is None:
            url = self.backend.engine.url.render_as_string(hide_password=False)
            self._engine = self.backend.storage.create_engine(url, timeout=5, poolclass=sa.pool.NullPool)
        meta = self.backend.storage.meta
        with self._engine.connect() as connection:
            connection.execute(sa.select(meta.c.value).where(meta.c.key == "schema_hash")).scalar()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host`` and ``port`` (0: one the system picks), for uvicorn to serve on.

    Made here rather than by uvicorn, because the socket uvicorn binds itself for several
    workers does not say it is TCP (``proto`` 0): asyncio then never sets ``TCP_NODELAY``
    on the connections it accepts, and every answer after the first on a kept-alive
    connection waits about 40 ms for the client's delayed ACK (uvicorn issue #3149).
    Sockets accepted from this one inherit ``IPPROTO_TCP``, so asyncio sets ``TCP_NODELAY``.
    Raises OSError when the address cannot be bound (in use, not this machine's).
    """
    # IPv4 unless the host is an IPv6 address, as uvicorn decides ("localhost" is 127.0.0.1).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, family, socket.SOCK_STREAM, socket.IPPROTO_TCP, socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)  # the workers uvicorn starts serve on it too
    return sock


@contextlib.contextmanager
def serving(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """``app`` under uvicorn in a thread, on ``host`` and a port the system picks; its base URL.

    For demos and tests: ``ftrack-like serve`` is the way to run a server for people.
    """
    import uvicorn

    sock = listening_socket(host, 0)
    # Event streams never end by themselves: at shutdown they get 2 s, then are closed.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", ws_max_size=MAX_MESSAGE,
                                             timeout_graceful_shutdown=2, timeout_keep_alive=75))  # as ftrack-like serve
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sock.close()
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        draining = getattr(getattr(app, "state", None), "draining", None)
        if draining is not None:  # no signal reaches a server in a thread: its streams are told here
            draining.start()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
