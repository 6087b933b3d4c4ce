"""``FTRACK_LIKE_LOG``: the package's logging turned on without code.

::

    FTRACK_LIKE_LOG=debug python script.py              # each query, its values and its time, on stderr
    FTRACK_LIKE_LOG=info python script.py
    FTRACK_LIKE_LOG=/tmp/ftrack.log python script.py     # DEBUG, into that file

A level name (``debug``, ``info``, ``warning``) writes the ``ftrack_like_api`` loggers at that
level to standard error; anything else is a file path, written at DEBUG. A program that
configures logging itself needs none of this: the loggers are ``ftrack_like_api.*``.
"""

from __future__ import annotations

import logging
import os

__all__ = ["LOG_VARIABLE", "configure_from_environment"]

#: The variable read when the package is imported.
LOG_VARIABLE = "FTRACK_LIKE_LOG"

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_from_environment() -> logging.Handler | None:
    """Add a handler to the ``ftrack_like_api`` logger as ``FTRACK_LIKE_LOG`` says; the handler, or None."""
    said = os.environ.get(LOG_VARIABLE, "").strip()
    if not said:
        return None
    logger = logging.getLogger("ftrack_like_api")
    if any(getattr(handler, "_ftrack_like_log", False) for handler in logger.handlers):
        return None  # once per process
    level = logging.getLevelName(said.upper())
    handler: logging.Handler
    if isinstance(level, int):
        handler = logging.StreamHandler()
    else:
        level = logging.DEBUG
        handler = logging.FileHandler(os.path.expanduser(said), encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    setattr(handler, "_ftrack_like_log", True)  # noqa: B010 - a mark of ours on logging's object
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
