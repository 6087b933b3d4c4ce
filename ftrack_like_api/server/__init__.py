"""The server side: the backend that executes batches, shared by the HTTP server and embedded mode.

Importing this package needs the ``server`` extra (SQLAlchemy); the client never imports it
except through the local transport, and then lazily.
"""

from __future__ import annotations

from .engine.backend import Backend, load_schema

__all__ = ["Backend", "load_schema"]
