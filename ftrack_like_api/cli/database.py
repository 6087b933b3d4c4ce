"""Where the studio database is, and opening it in-process, for the commands that manage it."""

from __future__ import annotations

import argparse
import os
import pathlib
import re
from typing import TYPE_CHECKING, Any

from ..exceptions import Error

if TYPE_CHECKING:
    from ..server.engine.backend import Backend

__all__ = ["DATABASE_VARIABLE", "checked_url", "default_database", "execute", "needing_the_server", "open_backend"]

DATABASE_VARIABLE = "FTRACK_LIKE_DATABASE"


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

def needing_the_server(command: Any, name: str, help: str, missing: ModuleNotFoundError) -> None:
    """Add ``name``, a command of the server's, to a client-only install's parser: listed, taking
    any arguments, and saying which extra it needs when run (the CLI names it for ``missing``)."""

    def needs(options: argparse.Namespace) -> int:
        raise options.missing

    made = command(name, needs, f"{help} (needs the server extra)")
    made.add_argument("arguments", nargs="*", help=argparse.SUPPRESS)
    made.set_defaults(missing=missing, needs_database=False)


def open_backend(options: argparse.Namespace) -> Backend:
    from ..server.engine.backend import Backend

    return Backend.from_url(checked_url(options.database))


def checked_url(url: str) -> str:
    """``url`` if it can be a database's; an Error saying what a database URL looks like otherwise."""
    import sqlalchemy as sa

    try:
        sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as reason:
        shown = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)  # never a password
        raise Error(f"{shown!r} is not a database URL ({reason}): sqlite:///path/to/studio.db, or "
                    "postgresql://user@host:5432/studio") from None  # fmt: skip
    return url


def execute(backend: Backend, operations: list[dict[str, Any]]) -> list[Any]:
    answer = backend.execute(operations, "admin")
    if isinstance(answer, dict):
        raise Error(answer["content"])
    return answer
