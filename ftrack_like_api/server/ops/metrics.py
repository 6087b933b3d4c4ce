"""``/metrics``: how the server is doing, in Prometheus' text format (``prometheus_client``).

Counted in each worker, as requests go:

- ``ftrack_like_requests_total{route, method, status}`` and ``ftrack_like_request_seconds{route}``
  — every HTTP request (``route`` is the endpoint's family: ``/api``, ``/events/stream``,
  ``/component/upload`` …, never a path with ids in it);
- ``ftrack_like_operations_total{action}``, ``ftrack_like_batch_operations`` and
  ``ftrack_like_batch_statements`` — what the batches asked and how many SQL statements each took;
- ``ftrack_like_gate_wait_seconds`` and ``ftrack_like_busy_total`` — waits for a turn at the
  database, and the 503s when none came;
- ``ftrack_like_pool_connections_in_use`` — the database pool's connections lent out;
- ``ftrack_like_file_bytes_total{direction}`` — bytes of files received and sent.

Read from the database when scraped (the same for every worker):
``ftrack_like_event_log_last_seq``, ``ftrack_like_event_log_events`` and, per durable
listener, ``ftrack_like_listener_lag_events{user, listener}`` (events between its cursor
and the log's end) and ``ftrack_like_listener_parked_events``.

With several workers (``serve --workers N``) each writes its numbers to files in
``PROMETHEUS_MULTIPROC_DIR`` (``serve`` makes a fresh folder) and any worker answers the
scrape with the sum (prometheus_client's multiprocess mode).

``/metrics`` answers an administrator's credentials (an API key or a sign-in token) or
``Authorization: Bearer <--metrics-token>`` (for the scraper), never anyone else; it
carries counts, never a user's data but durable listeners' names.
"""

from __future__ import annotations

import contextvars
import functools
import hmac
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator

import sqlalchemy as sa

if TYPE_CHECKING:
    from ..engine.backend import Backend

__all__ = ["METRICS_TOKEN_VARIABLE", "MULTIPROCESS_VARIABLE", "Metrics", "route_of"]

#: Where ``serve`` hands ``--metrics-token`` to its workers.
METRICS_TOKEN_VARIABLE = "FTRACK_LIKE_METRICS_TOKEN"
#: prometheus_client's multiprocess folder.
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

#: The route families requests are counted by (longest first); anything else is "other".
ROUTES = sorted(["/api", "/signin", "/events/stream", "/events/cursors", "/events/parked", "/events",
                 "/component/upload", "/component/get", "/component/remove", "/component/thumbnail",
                 "/socket.io", "/health", "/ready", "/metrics", "/api3/json"], key=len, reverse=True)  # fmt: skip
#: Routes whose bodies are files.
_FILE_ROUTES = ("/component/upload", "/component/get", "/component/thumbnail")

_statements: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("statements", default=None)


def route_of(path: str) -> str:
    """The family ``path`` is counted under."""
    for route in ROUTES:
        if path == route or path.startswith(route + "/") or (route == "/api" and path == "/api/"):
            return route
    return "other"


class Metrics:
    """The server's counters and the ``/metrics`` answer (see the module's text)."""

    def __init__(self, backend: Backend, token: str | None = None) -> None:
        import prometheus_client as prometheus

        self.backend = backend
        self.token = token if token is not None else (os.environ.get(METRICS_TOKEN_VARIABLE) or None)
        self.multiprocess = bool(os.environ.get(MULTIPROCESS_VARIABLE))
        self.registry = prometheus.CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = prometheus.Counter("ftrack_like_requests", "HTTP requests", ["route", "method", "status"],
                                           registry=registry)  # fmt: skip
        self.latency = prometheus.Histogram("ftrack_like_request_seconds", "Time to answer a request", ["route"],
                                            registry=registry,
                                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))  # fmt: skip
        self.operations = prometheus.Counter("ftrack_like_operations", "Operations in batches", ["action"],
                                             registry=registry)  # fmt: skip
        self.batch_size = prometheus.Histogram("ftrack_like_batch_operations", "Operations per batch",
                                               registry=registry, buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000))  # fmt: skip
        self.batch_statements = prometheus.Histogram("ftrack_like_batch_statements", "SQL statements per batch",
                                                     registry=registry, buckets=(1, 2, 5, 10, 20, 50, 100, 500))  # fmt: skip
        self.gate_wait = prometheus.Histogram("ftrack_like_gate_wait_seconds", "Waits for a turn at the database",
                                              registry=registry, buckets=(0.001, 0.01, 0.1, 0.5, 1, 5, 10))  # fmt: skip
        self.busy = prometheus.Counter("ftrack_like_busy", "Requests answered 503: no turn at the database came",
                                       registry=registry)  # fmt: skip
        self.pool = prometheus.Gauge("ftrack_like_pool_connections_in_use", "Database connections lent out",
                                     registry=registry, multiprocess_mode="livesum")  # fmt: skip
        self.file_bytes = prometheus.Counter("ftrack_like_file_bytes", "Bytes of files received (in) and sent (out)",
                                             ["direction"], registry=registry)  # fmt: skip
        self._instrument(backend)

    # --- counting -----------------------------------------------------------------------------

    def _instrument(self, backend: Backend) -> None:
        execute = backend.execute

        @functools.wraps(execute)
        def counted(operations: Any, *args: Any, **kwargs: Any) -> Any:
            statements = [0]
            token = _statements.set(statements)
            try:
                return execute(operations, *args, **kwargs)
            finally:
                _statements.reset(token)
                if isinstance(operations, list):
                    self.batch_size.observe(len(operations))
                    for operation in operations:
                        action = operation.get("action") if isinstance(operation, dict) else None
                        self.operations.labels(action if isinstance(action, str) and len(action) < 40 else "other").inc()
                self.batch_statements.observe(statements[0])

        backend.execute = counted  # type: ignore[method-assign]
        sa.event.listen(backend.engine, "before_cursor_execute", _count_statement)
        sa.event.listen(backend.engine.pool, "checkout", lambda *_: self.pool.inc())
        sa.event.listen(backend.engine.pool, "checkin", lambda *_: self.pool.dec())

    def waited(self, seconds: float, busy: bool) -> None:
        """The database gate tells each wait for a turn (and when none came)."""
        self.gate_wait.observe(seconds)
        if busy:
            self.busy.inc()

    def middleware(self, app: Any) -> Callable[..., Any]:
        """``app`` with each HTTP request counted (and file bytes, on the file routes)."""

        async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            route, started, status = route_of(scope.get("path", "")), time.perf_counter(), [500]
            files = route.startswith(_FILE_ROUTES)

            async def receiving() -> Any:
                message = await receive()
                if files and message.get("type") == "http.request":
                    self.file_bytes.labels("in").inc(len(message.get("body", b"")))
                return message

            async def sending(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                elif files and message["type"] == "http.response.body" and status[0] < 300:
                    self.file_bytes.labels("out").inc(len(message.get("body", b"")))
                await send(message)

            try:
                await app(scope, receiving, sending)
            finally:
                self.requests.labels(route, scope.get("method", ""), str(status[0])).inc()
                self.latency.labels(route).observe(time.perf_counter() - started)

        return counted

    # --- answering ----------------------------------------------------------------------------

    def allows(self, headers: Any, address: str) -> tuple[bool, str]:
        """Whether these credentials may read the metrics; the reason when not (runs in a database thread)."""
        from ...exceptions import Error
        from ..auth.throttle import Refusal
        from ..protocols.ftrack.api import _authenticate

        bearer = headers.get("authorization", "")
        if self.token and bearer.lower().startswith("bearer ") and hmac.compare_digest(bearer[7:].strip(), self.token):
            return True, ""
        try:
            user_id, username, _ = _authenticate(self.backend.auth, headers, address)
        except (Refusal, Error):
            return False, "the metrics need an administrator's credentials or the metrics token"
        with self.backend.engine.connect() as connection:
            principal = self.backend.permissions.principal(connection, username, user_id)
        return (True, "") if principal.admin else (False, "only administrators read the metrics")

    def exposition(self) -> bytes:
        """The text a scrape gets: every worker's counts, and what the database says now."""
        import prometheus_client as prometheus
        from prometheus_client import multiprocess

        if self.multiprocess:
            registry = prometheus.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return prometheus.generate_latest(registry) + prometheus.generate_latest(_DatabaseRegistry(self.backend))


def _count_statement(*_: Any) -> None:
    counting = _statements.get()
    if counting is not None:
        counting[0] += 1


class _DatabaseRegistry:
    """What the database says now: the event log and the durable listeners (a registry of one collector)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from ..events.listeners import Listeners

        backend = self.backend
        log = backend.storage.events["event_log"]
        with backend.engine.connect() as connection:
            first = connection.execute(sa.select(sa.func.min(log.c.seq))).scalar()
            last, positions = Listeners(backend.engine, backend.storage.events).positions(
                connection, backend.storage.table(backend.schema["User"]))  # fmt: skip
        yield GaugeMetricFamily("ftrack_like_event_log_last_seq", "The event log's last sequence number", value=last)
        yield GaugeMetricFamily("ftrack_like_event_log_events", "Events the log keeps",
                                value=(last - int(first) + 1) if first is not None else 0)  # fmt: skip
        lag = GaugeMetricFamily("ftrack_like_listener_lag_events", "Events between a durable listener's cursor and "
                                "the log's end", labels=["user", "listener"])  # fmt: skip
        held = GaugeMetricFamily("ftrack_like_listener_parked_events", "Events a durable listener parked",
                                 labels=["user", "listener"])  # fmt: skip
        for position in positions:
            labels = [position.username or position.user_id, position.name]
            lag.add_metric(labels, position.behind)
            held.add_metric(labels, position.parked)
        yield lag
        yield held
