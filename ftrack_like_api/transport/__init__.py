"""How a session reaches a backend: one method, ``handle(batch) -> results``.

- :class:`LocalTransport`: in-process, for ``sqlite:///…`` and ``postgresql://…`` URLs
  (the embedded mode). The server package loads when the first batch is sent.
- ``HttpTransport`` (with the HTTP server): for ``http(s)://`` URLs.
"""

from __future__ import annotations

from .base import Transport
from .local import LocalTransport

__all__ = ["LocalTransport", "Transport"]
