"""How a session reaches a backend: one method, ``handle(batch) -> results``.

- :class:`LocalTransport`: in-process, for ``sqlite:///…`` and ``postgresql://…`` URLs
  (the embedded mode). The server package loads when the first batch is sent.
- :class:`HttpTransport`: for ``http(s)://`` URLs (``requests`` loads only when it is used).
- :class:`MockTransport`: answers from a function of the batch, for tests.
"""

from __future__ import annotations

from .base import Transport
from .local import LocalTransport
from .mock import MockTransport

__all__ = ["HttpTransport", "LocalTransport", "MockTransport", "Transport"]


def __getattr__(name: str) -> object:
    if name == "HttpTransport":
        from .http import HttpTransport

        return HttpTransport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
