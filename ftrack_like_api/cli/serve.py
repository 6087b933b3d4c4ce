"""``ftrack-like serve``: the HTTP server, its workers and their settings.

``serve`` hands its options to the worker processes through environment variables;
each worker builds its app with :func:`app_from_environment`.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import sys
import tempfile
from typing import Any

from ..exceptions import Error
from .database import DATABASE_VARIABLE, default_database, needing_the_server, open_backend

__all__ = ["add_commands", "app_from_environment", "default_concurrency"]

#: How ``serve`` hands ``--timeout`` to its worker processes.
TIMEOUT_VARIABLE = "FTRACK_LIKE_TIMEOUT"
#: Seconds a served batch may run by default (embedded, in-process use has no limit).
TIMEOUT = 60.0
#: How ``serve`` hands ``--query-timeout`` and ``--max-rows`` to its worker processes.
QUERY_TIMEOUT_VARIABLE = "FTRACK_LIKE_QUERY_TIMEOUT"
MAX_ROWS_VARIABLE = "FTRACK_LIKE_MAX_ROWS"
CONCURRENCY_VARIABLE = "FTRACK_LIKE_CONCURRENCY"
RETENTION_VARIABLE = "FTRACK_LIKE_EVENT_RETENTION"
#: Seconds requests in flight get to finish when ``serve`` stops (event streams and hub sockets end at once).
GRACE = 5.0
#: Rows a served answer holds at most by default (clients page on from metadata.next.offset).
MAX_ROWS = 10_000



#: Seconds an idle kept-alive connection stays open (uvicorn's default is 5). Clients that reuse one
#: without retrying a POST when the server has closed it — shotgun_api3 through httplib2 — fail with
#: a broken pipe after a pause longer than that; 75 s is nginx's default.
KEEP_ALIVE = 75

def app_from_environment() -> Any:
    """The ASGI app for ``FTRACK_LIKE_DATABASE`` (what each ``serve`` worker imports)."""
    from ..server.app import create_app
    from ..server.engine.backend import Backend
    from ..server.events.retention import DEFAULT_RETENTION, parse_retention
    from ..server.files.settings import configure_from_environment

    timeout = float(os.environ.get(TIMEOUT_VARIABLE) or TIMEOUT)
    query_timeout = float(os.environ[QUERY_TIMEOUT_VARIABLE]) if os.environ.get(QUERY_TIMEOUT_VARIABLE) else None
    max_rows = int(os.environ.get(MAX_ROWS_VARIABLE) or MAX_ROWS)
    concurrency = int(os.environ[CONCURRENCY_VARIABLE]) if os.environ.get(CONCURRENCY_VARIABLE) else None
    backend = Backend.from_url(default_database(), timeout=timeout, query_timeout=query_timeout, max_rows=max_rows)
    configure_from_environment(backend)
    retention = parse_retention(os.environ.get(RETENTION_VARIABLE) or DEFAULT_RETENTION)
    return create_app(backend, concurrency=concurrency, event_retention=retention)


def default_concurrency(workers: int) -> int:
    """Database calls each of ``workers`` runs at once: two per core between them, at least two each.

    More only queue up in the CPU: with four workers of 15 each on two cores, 60 busy queries
    kept /health waiting past a second (benchmarks/security_probe.py).
    """
    return max(2, 2 * (os.cpu_count() or 1) // max(1, workers))


def serve(options: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from ..server.app import listening_socket
    from ..server.files.settings import export as export_file_settings
    from ..server.mail import MAIL_VARIABLE, settings_from_url
    from ..server.ops.metrics import METRICS_TOKEN_VARIABLE, MULTIPROCESS_VARIABLE
    from ..server.protocols.ftrack.hub import MAX_MESSAGE

    smtp = options.smtp or os.environ.get(MAIL_VARIABLE, "").strip()
    if smtp:  # the invitations' mail server (server/mail.py): checked here, read by each worker
        try:
            settings_from_url(smtp, "--smtp" if options.smtp else MAIL_VARIABLE)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        os.environ[MAIL_VARIABLE] = smtp
    os.environ[DATABASE_VARIABLE] = options.database
    os.environ[TIMEOUT_VARIABLE] = str(options.timeout)
    os.environ[QUERY_TIMEOUT_VARIABLE] = "" if options.query_timeout is None else str(options.query_timeout)
    os.environ[MAX_ROWS_VARIABLE] = str(options.max_rows)
    os.environ[CONCURRENCY_VARIABLE] = str(options.concurrency or default_concurrency(options.workers))
    os.environ[RETENTION_VARIABLE] = options.event_retention
    warning = export_file_settings(options, options.database)
    if warning:
        print(warning, file=sys.stderr)
    if options.metrics_token:
        os.environ[METRICS_TOKEN_VARIABLE] = options.metrics_token
    metrics_folder = None
    if options.workers > 1:  # each worker counts in files here; a scrape of any worker sums them
        metrics_folder = tempfile.TemporaryDirectory(prefix="ftrack-like-metrics-")
        os.environ[MULTIPROCESS_VARIABLE] = metrics_folder.name
    if bool(options.certfile) != bool(options.keyfile):
        print("error: HTTPS needs both --certfile and --keyfile", file=sys.stderr)
        return 1
    with open_backend(options):  # create and seed, or run the additive upgrades, before the workers start
        pass
    # One line per request, ours (user, actions, status, duration), in every worker;
    # uvicorn's own access line would say less, twice.
    config = uvicorn.Config("ftrack_like_api.cli.serve:app_from_environment", factory=True, host=options.host,
                            port=options.port, workers=options.workers, log_level=options.log_level,
                            log_config=_log_config(options.log_level, options.log_sql, options.log_format),
                            access_log=False, timeout_graceful_shutdown=options.shutdown_timeout,
                            timeout_keep_alive=KEEP_ALIVE,
                            ws_max_size=MAX_MESSAGE, ssl_certfile=options.certfile, ssl_keyfile=options.keyfile,
                            root_path=options.root_path, proxy_headers=True,
                            forwarded_allow_ips=options.forwarded_allow_ips)  # fmt: skip
    try:
        # Our socket, not uvicorn's: one uvicorn binds for several workers leaves TCP_NODELAY
        # off, and each answer on a kept-alive connection would wait ~40 ms (see listening_socket).
        sock = listening_socket(options.host, options.port)
    except OSError as reason:
        print(f"error: cannot listen on {options.host}:{options.port}: {reason}", file=sys.stderr)
        return 1
    scheme = "https" if options.certfile else "http"
    print(f"serving {options.database} on {scheme}://{options.host}:{options.port}{options.root_path} with "
          f"{options.workers} worker(s)", flush=True)  # fmt: skip
    with sock, metrics_folder or contextlib.nullcontext():
        try:
            if options.workers > 1:
                # uvicorn before 0.3x wants what each worker runs; later ones know it.
                wanted = inspect.signature(Multiprocess).parameters
                target = {"target": uvicorn.Server(config).run} if "target" in wanted else {}
                Multiprocess(config, sockets=[sock], **target).run()
            else:
                server = uvicorn.Server(config)
                server.run(sockets=[sock])
                if not server.started:
                    return 1
        except KeyboardInterrupt:
            pass
    return 0


def _retention(text: str) -> str:
    """``--event-retention``: checked here (argparse says what is wrong), handed on as written."""
    from ..server.events.retention import parse_retention

    try:
        parse_retention(text)
    except Error as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _log_config(level: str, log_sql: bool = False, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging, with this package's loggers written to stderr beside it, each line with its
    request's id, as text or JSON (and SQLAlchemy's statements with their parameters, with ``log_sql``)."""
    from ..server.ops.logs import logging_config

    config = logging_config(level, log_format)
    if log_sql:  # SQLAlchemy writes each statement, then its parameters, at INFO
        config["loggers"]["sqlalchemy.engine.Engine"] = {"handlers": ["ftrack_like"], "level": "INFO", "propagate": False}
    return config


def add_commands(command: Any) -> None:
    """Add ``serve`` to the CLI's parser (``command(name, handler, help)`` makes one)."""
    try:
        from ..server.events.retention import DEFAULT_RETENTION
        from ..server.files.settings import add_arguments as add_file_arguments
    except ModuleNotFoundError as missing:  # a client-only install: serve is listed, and says what it needs
        return needing_the_server(command, "serve", "serve the HTTP API", missing)
    served = command("serve", serve, "serve the HTTP API")
    served.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    served.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    served.add_argument("--workers", type=int, default=1, help="worker processes (default 1; about one per core)")
    served.add_argument("--timeout", type=float, default=TIMEOUT, metavar="SECONDS",
                        help=f"longest a batch may run before it is stopped and rolled back "
                             f"(default {TIMEOUT:g})")  # fmt: skip
    served.add_argument("--query-timeout", type=float, default=None, metavar="SECONDS",
                        help="longest a batch that only reads may run (default: as --timeout)")  # fmt: skip
    served.add_argument("--certfile", metavar="PEM", help="serve HTTPS with this certificate (chain), and --keyfile")
    served.add_argument("--keyfile", metavar="PEM", help="the certificate's private key")
    served.add_argument("--root-path", default="", metavar="PREFIX",
                        help="the path a reverse proxy serves this under, such as /tracker (it strips it before "
                             "passing requests on); every URL the server hands out carries it")  # fmt: skip
    served.add_argument("--forwarded-allow-ips", default=None, metavar="ADDRESSES",
                        help="proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated "
                             "addresses or networks, * for any; default $FORWARDED_ALLOW_IPS, else 127.0.0.1)")  # fmt: skip
    served.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="log lines as text (default) or one JSON object each, for log collectors")
    served.add_argument("--metrics-token", default=None, metavar="TOKEN",
                        help="a secret a Prometheus scraper sends as 'Authorization: Bearer TOKEN' to read /metrics "
                             "(administrators' credentials read it too)")  # fmt: skip
    served.add_argument("--shutdown-timeout", type=float, default=GRACE, metavar="SECONDS",
                        help=f"on SIGTERM, how long batches in flight may take to finish before they are cut "
                             f"(default {GRACE:g}); event streams and hub sockets end at once")  # fmt: skip
    served.add_argument("--max-rows", type=int, default=MAX_ROWS, metavar="ROWS",
                        help=f"most rows one query answers; clients page on for the rest (default {MAX_ROWS:,})")  # fmt: skip
    served.add_argument("--concurrency", type=int, default=None, metavar="CALLS",
                        help="database calls each worker runs at once; more wait, then get 503 "
                             "(default: two per core between the workers, at least 2)")  # fmt: skip
    served.add_argument("--event-retention", type=_retention, default=DEFAULT_RETENTION, metavar="AGE",
                        help=f"how long the event log keeps events: 45s, 90m, 12h, 30d, 2w, or 0 for ever "
                             f"(default {DEFAULT_RETENTION})")  # fmt: skip
    served.add_argument("--smtp", default=None, metavar="URL",
                        help="send ftrack's invitations through this mail server: smtp://host, "
                             "smtp+starttls://user:password@host or smtps://user:password@host, ?from=address "
                             "(default $FTRACK_LIKE_SMTP; without one the server sends no mail)")  # fmt: skip
    served.add_argument("--log-level", default="info", help="uvicorn's log level (default info)")
    served.add_argument("--log-sql", action="store_true", help="log the SQL each query became, with its parameters")
    add_file_arguments(served)  # --storage, --max-upload, --upload-expiry
