"""A real server for a studio's own tests, in one line: :func:`serve`.

Instead of a mock (ShotGrid's mockgun, a recorded answer), a test talks to the real
thing: a fresh SQLite file, a server on 127.0.0.1 on a port the system picks, and an API
key made for it, all gone when the block ends::

    from ftrack_like_api.testing import serve

    with serve() as studio:
        sg = shotgun_api3.Shotgun(studio.url, script_name=studio.script_name, api_key=studio.api_key)
        session = Session(server_url=studio.url, api_user=studio.user, api_key=studio.api_key)

It needs the ``server`` extra (its modules load when :func:`serve` is called, not when
this module is imported). Starting takes about a second: make it a session- or
module-scoped fixture where the tests can share a studio.
"""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import tempfile
from typing import Iterator

__all__ = ["Studio", "serve"]


@dataclasses.dataclass(frozen=True)
class Studio:
    """A served test studio: where it is and how to sign in to it."""

    #: The server's base URL (``http://127.0.0.1:<port>``).
    url: str
    #: The administrator the key belongs to.
    user: str
    #: An API key of :attr:`user`'s (ftrack's ``api_key``; ShotGrid's script key).
    api_key: str
    #: The key's name: ShotGrid's ``script_name``.
    script_name: str
    #: The database's URL (``sqlite:///…``), for a test that looks at it directly.
    database: str
    #: The folder the server location's files are kept in.
    storage: pathlib.Path


@contextlib.contextmanager
def serve(folder: str | pathlib.Path | None = None, script_name: str = "tests") -> Iterator[Studio]:
    """A new studio served on 127.0.0.1 for the block (see the module's text).

    ``folder`` holds its database and files (default: a temporary folder, removed after).
    """
    from .server.app import create_app, serving
    from .server.engine.backend import Backend

    with contextlib.ExitStack() as stack:
        where = (
            pathlib.Path(folder)
            if folder is not None
            else pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ftrack-like-test-")))
        )
        where.mkdir(parents=True, exist_ok=True)
        database = f"sqlite:///{where / 'studio.db'}"
        backend = stack.enter_context(Backend.from_url(database))
        storage = where / "studio.files"
        backend.files.configure(storage)
        if backend.auth is None:  # not with the shipped schema: a database of another has no accounts
            raise RuntimeError("The test studio's database has no accounts")
        key = backend.auth.create_key("admin", script_name)
        url = stack.enter_context(serving(create_app(backend)))
        yield Studio(url=url, user="admin", api_key=key, script_name=script_name, database=database, storage=storage)
