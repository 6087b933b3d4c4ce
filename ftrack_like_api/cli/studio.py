"""Which studio a client command reaches, and as whom: said at the top, never guessed.

``query``, ``shell``, ``listen``, ``events …``, ``upload`` and ``download`` are clients of a
studio, as a script is. The first of these that is given says where:

1. ``--server URL``: that server, with FTRACK_API_USER and FTRACK_API_KEY, else the
   sign-in ``ftrack-like login`` kept for it;
2. ``--database URL``: that database, opened here, as ``admin`` (an ``http(s)://`` URL is
   taken as ``--server``);
3. ``FTRACK_SERVER``: as ``--server`` (a database URL: as ``--database``, as
   FTRACK_API_USER or ``admin``);
4. the server signed in to last (``ftrack-like login``);
5. ``FTRACK_LIKE_DATABASE``: the server machine's own database, as ``admin``.

Nothing of these: the command refuses, saying how to name a studio. Each command writes
``studio: … as …`` to standard error before it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, Iterator

from .database import DATABASE_VARIABLE, execute, open_backend

__all__ = ["LocalStudio", "RemoteStudio", "add_arguments", "client_session", "open_studio", "studio_of"]

NOWHERE = ("No studio named: sign in (`ftrack-like login https://studio.example`), or set FTRACK_SERVER, or give "
           "--server URL (or --database URL for a database on this machine)")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--server``, for a client command (``--database`` is every command's)."""
    parser.add_argument("--server", metavar="URL", help="the server (default: $FTRACK_SERVER, else the server signed in "
                        "to last); see `ftrack-like login`")  # fmt: skip
    parser.set_defaults(needs_database=False)


def studio_of(options: argparse.Namespace) -> tuple[str, str | None]:
    """(URL, user to act as, or None for the kept sign-in's or FTRACK_API_USER) for a client command."""
    server, database = getattr(options, "server", None), options.database
    environment = os.environ.get("FTRACK_SERVER")
    if server:
        return _checked(server), os.environ.get("FTRACK_API_USER")
    if database:
        return (database, os.environ.get("FTRACK_API_USER")) if _is_server(database) else (database, "admin")
    if environment:
        return environment, os.environ.get("FTRACK_API_USER") or (None if _is_server(environment) else "admin")
    from ..credential_store import CredentialStore

    kept = CredentialStore().load()
    if kept is not None:
        return kept.server_url, kept.username
    if os.environ.get(DATABASE_VARIABLE):
        return os.environ[DATABASE_VARIABLE], "admin"
    raise ValueError(NOWHERE)


def client_session(options: argparse.Namespace) -> Any:
    """A Session on the studio :func:`studio_of` names, after saying which and as whom on standard error."""
    from ..session import Session

    url, user = studio_of(options)
    plugin_paths = getattr(options, "plugin_path", None) or []
    session = Session(server_url=url, api_user=user, plugin_paths=plugin_paths or "", schema_cache_path=False)
    print(f"studio: {_shown(session.server_url)} as {session.api_user}", file=sys.stderr, flush=True)
    return session


@contextlib.contextmanager
def open_studio(options: argparse.Namespace) -> Iterator[LocalStudio | RemoteStudio]:
    """The studio :func:`studio_of` names, for the administrators' commands: a server's ``/admin``, or a
    database opened here."""
    url, _ = studio_of(options)
    if not _is_server(url):
        options.database = url
        with open_backend(options) as backend:
            yield LocalStudio(backend)
        return
    with client_session(options) as session:
        yield RemoteStudio(session)


class LocalStudio:
    """A database opened in this process: batches and commands run as ``admin``."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def execute(self, operations: list[dict[str, Any]]) -> list[Any]:
        return execute(self.backend, operations)

    def command(self, name: str, *arguments: Any) -> Any:
        from ..server.auth.commands import run

        return run(self.backend.auth, name, list(arguments))

    def explain(self, expression: str) -> dict[str, Any]:
        """The SQL ``expression`` became and the database's plan, run as ``admin``."""
        from ..exceptions import ServerError
        from ..server.engine.explain import explain

        answer = explain(self.backend, expression)
        if "exception" in answer:
            raise ServerError.from_answer(answer)
        return answer


class RemoteStudio:
    """A server: batches through the session, commands to ``POST /admin`` (administrators only)."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def execute(self, operations: list[dict[str, Any]]) -> list[Any]:
        return self.session.call(operations)  # type: ignore[no-any-return]

    def command(self, name: str, *arguments: Any) -> Any:
        return self._post("/admin", {"command": name, "arguments": list(arguments)})["result"]

    def explain(self, expression: str) -> dict[str, Any]:
        """The SQL ``expression`` became on the server and the database's plan (administrators only)."""
        return self._post("/admin/explain", {"expression": expression})  # type: ignore[no-any-return]

    def _post(self, route: str, body: Any) -> Any:
        import requests

        from ..exceptions import ServerError, TransportError

        transport = self.session.transport
        url = transport.url[: -len("/api")] + route
        try:
            response = transport.http().post(url, json=body, headers=transport.credentials(), timeout=transport.timeout)
            answer = response.json()
        except requests.RequestException as reason:
            raise TransportError(f"No answer from {url}: {reason}") from reason
        except ValueError:
            raise TransportError(f"{url} answered {response.status_code} with something that is not JSON") from None
        if response.status_code != 200:
            raise ServerError.from_answer(answer if isinstance(answer, dict) else {"content": str(answer)})
        return answer


def _is_server(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _checked(url: str) -> str:
    if not _is_server(url):
        raise ValueError(f"--server {url!r} is not a server's URL: add http:// or https:// (for a database on this "
                         "machine, --database)")  # fmt: skip
    return url


def _shown(url: str | None) -> str:
    """A URL as it may be printed: never a password."""
    if url and "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}" if ":" in credentials else url
    return url or ""
