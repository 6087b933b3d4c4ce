"""How a session reaches a backend: one method, ``handle(batch) -> results``.

- :class:`LocalTransport`: in-process, for ``sqlite:///…`` and ``postgresql://…`` URLs
  (the embedded mode). The server package loads when the first batch is sent.
- :class:`HttpTransport`: for ``http(s)://`` URLs (``requests`` loads only when it is used).
- :class:`MockTransport`: answers from a function of the batch, for tests.

``transport.files()`` is the :class:`FileChannel` that moves components' bytes
(:class:`HttpFileChannel`, :class:`LocalFileChannel`).
"""

from __future__ import annotations

from typing import Any

from .base import Transport
from .files import FileChannel
from .local import SCHEMES, LocalFileChannel, LocalTransport
from .mock import MockTransport

__all__ = ["FileChannel", "HttpFileChannel", "HttpTransport", "LocalFileChannel", "LocalTransport", "MockTransport",
           "Transport", "transport_for"]  # fmt: skip


def transport_for(
    url: str | None, user: str | None, key: str | None = None, timeout: Any = (10.0, 300.0), token: Any = None,
    proxy: str | None = None,
) -> Transport:
    """The transport for ``url``: HTTP for ``http(s)://`` (with ``key`` or ``token``, through ``proxy``), else in-process."""
    if not url:
        raise ValueError("Session needs server_url (or FTRACK_SERVER, or a sign-in: `ftrack-like login SERVER`): "
                         "https://studio.example, sqlite:///studio.db, postgresql://…")  # fmt: skip
    if url.startswith(("http://", "https://")) and not token and (not user or not key):
        # Nothing says who: a new user's first Session on a server they have not signed in to.
        raise ValueError(f"A session on {url} needs api_user and api_key (FTRACK_API_USER and FTRACK_API_KEY: a "
                         f"script's key), or a sign-in there: `ftrack-like login {url}{f' --user {user}' if user else ''}`")
    if not user:
        raise ValueError("Session needs api_user (or FTRACK_API_USER): the user the session acts as")
    if url.startswith(("http://", "https://")):
        from .http import HttpTransport  # requests loads only for a server

        return HttpTransport(url, user, key, timeout=timeout, token=token, proxy=proxy)
    if "://" not in url:
        raise ValueError(f"{url!r} needs its scheme: http:// or https:// for a server (https://{url}), sqlite:/// or "
                         "postgresql:// for a database")  # fmt: skip
    if not url.startswith(SCHEMES):
        raise ValueError(f"{url.split('://')[0]}:// is not a studio this client reaches: http:// or https:// for a "
                         "server, sqlite:///path or postgresql://… for a database")  # fmt: skip
    return LocalTransport(url, user)


def __getattr__(name: str) -> object:
    if name == "HttpTransport":
        from .http import HttpTransport

        return HttpTransport
    if name == "HttpFileChannel":
        from .http_files import HttpFileChannel

        return HttpFileChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
