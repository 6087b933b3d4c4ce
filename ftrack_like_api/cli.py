"""``ftrack-like``: run the server and manage a studio database from the command line.

The application layer: it uses the server (to serve and to manage) and the client
(``shell``), which never import each other.

Every subcommand takes ``--database URL`` (default: ``FTRACK_LIKE_DATABASE``, else a
SQLite file in the user data folder). Errors are one readable line and a non-zero exit.

::

    ftrack-like init
    ftrack-like user add jo --role user
    ftrack-like key create --user jo --name nuke-publisher      # the key, alone on the last line
    ftrack-like user logout-everywhere jo                       # end jo's sign-in tokens
    ftrack-like upgrade                                         # after installing a new version
    ftrack-like serve --host 0.0.0.0 --port 8000 --workers 4
    ftrack-like serve --storage /mnt/studio/files --max-upload 50G  # the server location's files
    ftrack-like query 'select name, status.name from Task limit 5'
    ftrack-like listen --plugin-path plugins --name studio      # durable listeners (cli_events.py)
    ftrack-like upload plate.exr --version ID                   # files (cli_files.py)
"""

from __future__ import annotations

import argparse
import contextlib
import code
import getpass
import inspect
import json
import os
import pathlib
import sys
import tempfile
import uuid
from typing import TYPE_CHECKING, Any, Sequence

from .exceptions import Error

if TYPE_CHECKING:
    from .server.engine.backend import Backend

__all__ = ["app_from_environment", "default_database", "main"]

DATABASE_VARIABLE = "FTRACK_LIKE_DATABASE"
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


def default_database() -> str:
    """``FTRACK_LIKE_DATABASE``, else ``studio.db`` in this user's data folder, as the platform puts it.

    (``$XDG_DATA_HOME/ftrack-like``, by default ``~/.local/share/ftrack-like``, on Linux;
    ``~/Library/Application Support/ftrack-like`` on macOS; ``%LOCALAPPDATA%\\ftrack-like`` on
    Windows.)
    """
    if os.environ.get(DATABASE_VARIABLE):
        return os.environ[DATABASE_VARIABLE]
    import platformdirs

    folder = pathlib.Path(platformdirs.user_data_dir("ftrack-like", appauthor=False))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'studio.db'}"


def app_from_environment() -> Any:
    """The ASGI app for ``FTRACK_LIKE_DATABASE`` (what each ``serve`` worker imports)."""
    from .server.app import create_app
    from .server.engine.backend import Backend
    from .server.events.retention import DEFAULT_RETENTION, parse_retention
    from .server.files.settings import configure_from_environment

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


def _backend(options: argparse.Namespace) -> Backend:
    from .server.engine.backend import Backend

    return Backend.from_url(options.database)


def _execute(backend: Backend, operations: list[dict[str, Any]]) -> list[Any]:
    answer = backend.execute(operations, "admin")
    if isinstance(answer, dict):
        raise Error(answer["content"])
    return answer


def init(options: argparse.Namespace) -> int:
    from .server.engine.dialects import make_folder

    make_folder(options.database)  # a new studio's folder: init makes it (serve and the rest do not)
    with _backend(options) as backend:
        users = _execute(backend, [{"action": "query", "expression": "select username from User"}])[0]["data"]
    print(f"{options.database} is ready: {len(backend.schema.to_ftrack())} entity types, users {', '.join(u['username'] for u in users)}")
    return 0


def user_add(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        key = str(uuid.uuid4())
        data = {"id": key, "username": options.name, "first_name": options.first_name, "last_name": options.last_name,
                "email": options.email}  # fmt: skip
        _execute(backend, [{"action": "create", "entity_type": "User", "entity_key": [key],
                            "entity_data": {k: v for k, v in data.items() if v is not None}}])  # fmt: skip
        backend.auth.set_role(options.name, options.role)  # type: ignore[union-attr]
    print(f"user {options.name} added ({options.role})")
    return 0


def user_list(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        users = _execute(backend, [{"action": "query", "expression":
                                    "select username, first_name, last_name, email, is_active from User order by username"}])  # fmt: skip
        for user in users[0]["data"]:
            role = backend.auth.role(user["id"])  # type: ignore[union-attr]
            state = "active" if user["is_active"] else "disabled"
            print(f"{user['username']:20} {role:10} {state:9} {user.get('email') or ''}")
    return 0


def user_disable(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        found = _execute(backend, [{"action": "query", "expression": "User where username is " + json.dumps(options.name)}])
        if not found[0]["data"]:
            raise Error(f"No user {options.name!r}")
        user = found[0]["data"][0]
        _execute(backend, [{"action": "update", "entity_type": "User", "entity_key": [user["id"]],
                            "entity_data": {"is_active": False}}])  # fmt: skip
    print(f"user {options.name} disabled: their keys and sign-in tokens no longer work")
    return 0


def user_role(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        backend.auth.set_role(options.name, options.role)  # type: ignore[union-attr]
        shown = backend.auth.role(_user_id(backend, options.name))  # type: ignore[union-attr]
    print(f"user {options.name} is now {shown}")
    return 0


def user_grant(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        if options.all_projects:
            backend.auth.allow_all_projects(options.name)  # type: ignore[union-attr]
        else:
            backend.auth.grant(options.name, options.project, options.role)  # type: ignore[union-attr]
        shown = backend.auth.role(_user_id(backend, options.name))  # type: ignore[union-attr]
    print(f"user {options.name}: {shown}")
    return 0


def user_revoke(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        if not backend.auth.revoke_project(options.name, options.project):  # type: ignore[union-attr]
            raise Error(f"{options.name} had no grant on {options.project!r}")
        shown = backend.auth.role(_user_id(backend, options.name))  # type: ignore[union-attr]
    print(f"user {options.name}: {shown}")
    return 0


def _user_id(backend: Backend, name: str) -> str:
    with backend.engine.connect() as connection:
        found = backend.auth.user_id(connection, name)  # type: ignore[union-attr]
    if found is None:
        raise Error(f"No user {name!r}")
    return found


def user_password(options: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if options.password_stdin else getpass.getpass(f"Password for {options.name}: ")
    with _backend(options) as backend:
        backend.auth.set_password(options.name, password)  # type: ignore[union-attr]
    print(f"password set for {options.name}: sign in with ftrack_like_api.signin(server, {options.name!r}, password)")
    return 0


def user_logout_everywhere(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        count = backend.auth.logout_everywhere(options.name)  # type: ignore[union-attr]
    print(f"ended {count} sign-in token(s) of {options.name}: they sign in again (their API keys still work)")
    return 0


def key_create(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        live = [k for k in backend.auth.list_keys(options.user) if k["name"] == options.name and not k["revoked_at"]]  # type: ignore[union-attr]
        if live and not options.replace:
            made = live[0]["created_at"].isoformat(timespec="seconds")
            raise Error(f"{options.user} has a key named {options.name!r} already (made {made}Z): "
                        "revoke it, or add --replace to make a new one and revoke that one")  # fmt: skip
        if live:
            backend.auth.revoke(options.user, options.name)  # type: ignore[union-attr]
        secret = backend.auth.create_key(options.user, options.name)  # type: ignore[union-attr]
    print(f"API key {options.name!r} for {options.user} (shown once; keep it secret):")
    print(secret)
    return 0


#: What a custom attribute belongs to, as its configuration's ``entity_type`` says it.
ATTRIBUTE_OWNERS = {"task": "the TypedContext types (narrow with --object-type)", "show": "projects",
                    "assetversion": "versions", "asset": "assets", "user": "users", "list": "lists"}  # fmt: skip


def attribute_add(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        def one(expression: str, what: str) -> str:
            found = _execute(backend, [{"action": "query", "expression": expression}])[0]["data"]
            if len(found) != 1:
                raise Error(f"No {what}" if not found else f"Several {what}")
            return str(found[0]["id"])

        kind = one(f"CustomAttributeType where name is {json.dumps(options.type)}", f"custom attribute type {options.type!r}")
        data: dict[str, Any] = {"key": options.key, "label": options.label or options.key, "type_id": kind,
                                "entity_type": "context" if options.hierarchical else options.entity_type,
                                "is_hierarchical": options.hierarchical}  # fmt: skip
        if options.object_type:
            data["object_type_id"] = one(f"ObjectType where name is {json.dumps(options.object_type)}",
                                         f"object type {options.object_type!r}")  # fmt: skip
        if options.project:
            data["project_id"] = one(f"Project where name is {json.dumps(options.project)}", f"project {options.project!r}")
        if options.default is not None:
            try:
                data["default"] = json.loads(options.default)
            except ValueError:
                data["default"] = options.default  # plain text
        same = (f"CustomAttributeConfiguration where key is {json.dumps(options.key)} and entity_type is "
                f"{json.dumps(data['entity_type'])} and object_type_id is {json.dumps(data.get('object_type_id'))}")
        if _execute(backend, [{"action": "query", "expression": same.replace("is null", "is None")}])[0]["data"]:
            raise Error(f"A custom attribute {options.key!r} for the same kind of entity exists already")
        _execute(backend, [{"action": "create", "entity_type": "CustomAttributeConfiguration", "entity_data": data}])
    where = ("every context, inherited down the tree" if options.hierarchical else
             f"each {options.object_type}" if options.object_type else ATTRIBUTE_OWNERS[options.entity_type])  # fmt: skip
    print(f"custom attribute {options.key!r} ({options.type}) added for {where}")
    return 0


def attribute_list(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        rows, kinds = (answer["data"] for answer in _execute(backend, [
            {"action": "query", "expression": "select key, label, type_id, entity_type, object_type_id, project_id, "
                                              "default, is_hierarchical from CustomAttributeConfiguration "
                                              "order by entity_type, key"},
            {"action": "query", "expression": "select name from CustomAttributeType"},
        ]))  # fmt: skip
        names = {kind["id"]: kind["name"] for kind in kinds}  # by id: the wire sends a type met twice once
        for row in rows:
            default = json.dumps(row["default"])
            print(f"{row['key']:20} {names.get(row['type_id'], '?'):12} {row['entity_type']:13} default {default}")
    return 0


def key_list(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        for key in backend.auth.list_keys(options.user):  # type: ignore[union-attr]
            used = key["last_used_at"].isoformat(timespec="seconds") if key["last_used_at"] else "never used"
            state = "revoked" if key["revoked_at"] else "live"
            print(f"{key['username']:20} {key['name']:30} {state:8} made {key['created_at']:%Y-%m-%d}, {used}")
    return 0


def key_revoke(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        count = backend.auth.revoke(options.user, options.name)  # type: ignore[union-attr]
        if not count:
            raise Error(f"{options.user} has no live key named {options.name!r}")
    print(f"revoked {count} key(s) named {options.name!r} of {options.user}")
    return 0


def upgrade(options: argparse.Namespace) -> int:
    from .server.engine.upgrades import upgrade_database

    print("\n".join(upgrade_database(options.database, sql=options.sql)))
    return 0


def serve(options: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .server.app import listening_socket
    from .server.files.settings import export as export_file_settings
    from .server.ops.metrics import METRICS_TOKEN_VARIABLE, MULTIPROCESS_VARIABLE
    from .server.protocols.ftrack.hub import MAX_MESSAGE

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
    with _backend(options):  # create and seed, or run the additive upgrades, before the workers start
        pass
    # One line per request, ours (user, actions, status, duration), in every worker;
    # uvicorn's own access line would say less, twice.
    config = uvicorn.Config("ftrack_like_api.cli:app_from_environment", factory=True, host=options.host,
                            port=options.port, workers=options.workers, log_level=options.log_level,
                            log_config=_log_config(options.log_level, options.log_format), access_log=False,
                            timeout_graceful_shutdown=options.shutdown_timeout, ws_max_size=MAX_MESSAGE,
                            ssl_certfile=options.certfile, ssl_keyfile=options.keyfile, root_path=options.root_path,
                            proxy_headers=True, forwarded_allow_ips=options.forwarded_allow_ips)  # fmt: skip
    if bool(options.certfile) != bool(options.keyfile):
        print("error: HTTPS needs both --certfile and --keyfile", file=sys.stderr)
        return 1
    try:
        # Our socket, not uvicorn's: one uvicorn binds for several workers leaves TCP_NODELAY
        # off, and each answer on a kept-alive connection would wait ~40 ms (see listening_socket).
        sock = listening_socket(options.host, options.port)
    except OSError as reason:
        print(f"error: cannot listen on {options.host}:{options.port}: {reason}", file=sys.stderr)
        return 1
    scheme = "https" if options.certfile else "http"
    print(f"serving {options.database} on {scheme}://{options.host}:{options.port}{options.root_path} with "
          f"{options.workers} worker(s)",
          flush=True)  # fmt: skip
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
    from .server.events.retention import parse_retention

    try:
        parse_retention(text)
    except Error as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _log_config(level: str, log_format: str = "text") -> dict[str, Any]:
    """uvicorn's logging, with this package's loggers written to stderr beside it (each line with its request's id)."""
    from .server.ops.logs import logging_config

    return logging_config(level, log_format)


def query(options: argparse.Namespace) -> int:
    with _backend(options) as backend:
        rows = _execute(backend, [{"action": "query", "expression": options.expression}])[0]["data"]
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = list(dict.fromkeys(
        key for row in rows for key in row if key != "__entity_type__" and not isinstance(row[key], (dict, list))
    ))  # fmt: skip
    widths = {c: max([len(c)] + [len(str(row.get(c, ""))) for row in rows]) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


def shell(options: argparse.Namespace) -> int:
    from .session import Session

    session = Session(server_url=options.database, api_user="admin")
    banner = f"ftrack_like_api shell on {options.database}: `session` is connected as admin."
    code.interact(banner=banner, local={"session": session}, exitmsg="")
    session.close()
    return 0


def demo(options: argparse.Namespace) -> int:
    from .demo import main as run_demo

    # The demo builds in a new temporary database unless one is named: never in the studio's.
    arguments = ["--sequences", str(options.sequences), "--shots", str(options.shots)]
    return run_demo(arguments + (["--database", options.database] if options.database else []))


def parser() -> argparse.ArgumentParser:
    # The server's modules load here, not when this module is imported, so that main() can
    # tell a client-only install which extra to add.
    from .server.auth.permissions import ROLES
    from .server.engine.seed import CUSTOM_ATTRIBUTE_TYPES
    from .server.events.retention import DEFAULT_RETENTION
    from .server.files.settings import add_arguments as add_file_arguments

    top = argparse.ArgumentParser(prog="ftrack-like", description="Run the server and manage a studio database.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database", default=None, help="database URL (default: $FTRACK_LIKE_DATABASE or a SQLite file "
                                                        "in the user data folder)")  # fmt: skip
    commands = top.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, handler: Any, help: str, parent: Any = commands) -> argparse.ArgumentParser:
        made = parent.add_parser(name, parents=[common], help=help, description=help)
        made.set_defaults(handler=handler)
        return made

    command("init", init, "create and seed the database and the admin user (safe to run twice)")
    upgraded = command("upgrade", upgrade, "upgrade the database to this version's schema (back it up first; "
                       "serve runs only the additive upgrades by itself)")  # fmt: skip
    upgraded.add_argument("--sql", action="store_true", help="print the SQL the upgrade would run, and change nothing")
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
    served.add_argument("--log-level", default="info", help="uvicorn's log level (default info)")
    add_file_arguments(served)  # --storage, --max-upload, --upload-expiry
    users = commands.add_parser("user", help="add, list and disable users").add_subparsers(dest="action", required=True)
    added = command("add", user_add, "add a user", users)
    added.add_argument("name")
    added.add_argument("--role", choices=ROLES, default="user")
    added.add_argument("--first-name")
    added.add_argument("--last-name")
    added.add_argument("--email")
    command("list", user_list, "list users", users)
    command("disable", user_disable, "disable a user (their keys stop working)", users).add_argument("name")
    roled = command("role", user_role, "give a user a role (admin, user, read-only) wherever they have access", users)
    roled.add_argument("name")
    roled.add_argument("role", choices=ROLES)
    granted = command("grant", user_grant, "restrict a user to the projects granted, this one among them", users)
    granted.add_argument("name")
    which = granted.add_mutually_exclusive_group(required=True)
    which.add_argument("--project", help="the project's name or id")
    which.add_argument("--all-projects", action="store_true", help="lift the restriction: every project again")
    granted.add_argument("--role", choices=ROLES, help="the role on that project (default: the user's role)")
    revoked_project = command("revoke", user_revoke, "take a project from a user's grants", users)
    revoked_project.add_argument("name")
    revoked_project.add_argument("--project", required=True, help="the project's name or id")
    passworded = command("password", user_password, "set a user's password (for signing in)", users)
    passworded.add_argument("name")
    passworded.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    command("logout-everywhere", user_logout_everywhere, "end every sign-in token of a user (a new password and "
            "disabling a user do too)", users).add_argument("name")  # fmt: skip
    keys = commands.add_parser("key", help="create, list and revoke API keys").add_subparsers(dest="action", required=True)
    created = command("create", key_create, "create an API key (printed alone on the last line)", keys)
    created.add_argument("--user", required=True)
    created.add_argument("--name", required=True, help="what uses it: a script, a tool, a person")
    created.add_argument("--replace", action="store_true", help="revoke the user's key of that name and make a new one")
    command("list", key_list, "list API keys (never the keys themselves)", keys).add_argument("--user")
    revoked = command("revoke", key_revoke, "revoke a user's key by name", keys)
    revoked.add_argument("--user", required=True)
    revoked.add_argument("--name", required=True)
    attributes = commands.add_parser("attribute", help="add and list custom attributes").add_subparsers(
        dest="action", required=True)  # fmt: skip
    added_attribute = command("add", attribute_add, "add a custom attribute (a CustomAttributeConfiguration)", attributes)
    added_attribute.add_argument("key", help="the key scripts use: task['custom_attributes'][KEY]")
    added_attribute.add_argument("--type", required=True, choices=CUSTOM_ATTRIBUTE_TYPES)
    added_attribute.add_argument("--entity-type", choices=sorted(ATTRIBUTE_OWNERS), default="task",
                                 help="what it belongs to (default task: the TypedContext types)")  # fmt: skip
    added_attribute.add_argument("--object-type", help="only this kind of context: Shot, Task, Sequence …")
    added_attribute.add_argument("--project", help="only in this project")
    added_attribute.add_argument("--label", help="what people read (default: the key)")
    added_attribute.add_argument("--default", help="the value until one is set (JSON: 24, true, \"text\"; or plain text)")
    added_attribute.add_argument("--hierarchical", action="store_true",
                                 help="on every context, its value inherited from the nearest ancestor that sets it")
    command("list", attribute_list, "list custom attributes", attributes)
    asked = command("query", query, "run a query; print a table, or JSON")
    asked.add_argument("expression")
    asked.add_argument("--json", action="store_true")
    command("shell", shell, "a Python shell with a connected `session`")
    from .cli_events import add_commands as event_commands

    event_commands(command, commands)
    from .cli_files import add_commands as file_commands

    file_commands(command)
    from .cli_ops import add_commands as ops_commands

    ops_commands(command)
    from .demo import add_arguments as demo_arguments

    demo_arguments(command("demo", demo, "serve a demo studio and exercise it through a Session over HTTP"))
    return top


def main(argv: Sequence[str] | None = None) -> int:
    try:
        top = parser()
    except ModuleNotFoundError as missing:
        return _needs_server_extra(missing)
    options = top.parse_args(argv)
    if options.database is None and options.command != "demo":
        options.database = default_database()
    try:
        return int(options.handler(options) or 0)
    except (Error, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)  # one line; a query error adds the line with its caret
        return 1
    except BrokenPipeError:
        # The reader went away (`ftrack-like query … | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as missing:  # uvicorn or another part of the server extra alone
        return _needs_server_extra(missing)
    except Exception as error:  # a bug of ours: one line here, the traceback only when asked for
        print(f"error: {type(error).__name__}: {error} (a bug: FTRACK_LIKE_DEBUG=1 shows where)", file=sys.stderr)
        if os.environ.get("FTRACK_LIKE_DEBUG"):
            raise
        return 1


def _needs_server_extra(missing: ModuleNotFoundError) -> int:
    """Say which extra to install when a package of the server extra is missing (a bug of ours raises)."""
    if not missing.name or missing.name.split(".")[0] == __package__:
        raise missing
    print(f"error: ftrack-like needs the server extra ({missing.name} is not installed): "
          "pip install 'ftrack-like-api[server]'", file=sys.stderr)  # fmt: skip
    return 1


if __name__ == "__main__":
    sys.exit(main())
