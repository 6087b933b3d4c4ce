"""Where ``serve`` keeps the files and their limits: its options, the workers' environment, the cleanup.

``ftrack-like serve`` takes ``--storage DIR`` (or ``s3://bucket/prefix``; default
``FTRACK_LIKE_STORAGE``, else a folder beside a SQLite file), ``--max-upload SIZE`` and
``--upload-expiry AGE``, and hands them to its worker processes by environment variables
(:func:`export`); each worker's app reads them (:func:`configure_from_environment`).
While the app runs, each worker cleans up abandoned uploads now and then
(:func:`cleaning`: idempotent, so several workers doing it is harmless).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import re
from typing import TYPE_CHECKING, AsyncIterator

import anyio
import anyio.to_thread

from ...exceptions import ValidationError
from . import STORAGE_VARIABLE
from .uploads import EXPIRY

if TYPE_CHECKING:
    from ..engine.backend import Backend

__all__ = ["MAX_UPLOAD_VARIABLE", "UPLOAD_EXPIRY_VARIABLE", "add_arguments", "cleaning", "configure_from_environment",
           "export", "parse_age", "parse_size"]  # fmt: skip

log = logging.getLogger(__name__)

MAX_UPLOAD_VARIABLE = "FTRACK_LIKE_MAX_UPLOAD"
UPLOAD_EXPIRY_VARIABLE = "FTRACK_LIKE_UPLOAD_EXPIRY"
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", re.IGNORECASE)
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_size(text: str) -> int | None:
    """``"10G"`` -> 10 GiB in bytes (K, M, G, T: powers of 1024); ``"0"`` -> None (no limit)."""
    found = _SIZE.fullmatch(text or "")
    if found is None:
        raise ValidationError(f"A size is a number and a unit (K, M, G, T), such as 20G, or 0 for no limit; not {text!r}",
                              "bad_size")  # fmt: skip
    size = int(float(found.group(1)) * _SIZE_UNITS[found.group(2).lower()])
    return size or None


def parse_age(text: str) -> datetime.timedelta:
    """``"24h"`` -> 24 hours (s, m, h, d, w; a number alone is seconds); more than zero."""
    found = _AGE.fullmatch(text or "")
    seconds = float(found.group(1)) * _AGE_UNITS[(found.group(2) or "s").lower()] if found else 0
    if not seconds:
        raise ValidationError(f"An age is a number and a unit (s, m, h, d, w), such as 24h; not {text!r}", "bad_age")
    return datetime.timedelta(seconds=seconds)


def _checked(parse: object) -> object:
    def check(text: str) -> str:
        try:
            parse(text)  # type: ignore[operator]
        except ValidationError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    return check


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``serve``'s options about files."""
    parser.add_argument("--storage", default=None, metavar="DIR",
                        help=f"where the server location's files are kept: a folder, or s3://bucket/prefix (default: "
                             f"${STORAGE_VARIABLE}, else a folder beside a SQLite file; PostgreSQL needs one)")  # fmt: skip
    parser.add_argument("--max-upload", type=_checked(parse_size), default="0", metavar="SIZE",  # type: ignore[arg-type]
                        help="the largest file the server takes, such as 20G (default 0: no limit)")
    parser.add_argument("--upload-expiry", type=_checked(parse_age), default="24h", metavar="AGE",  # type: ignore[arg-type]
                        help="how long an unfinished upload is kept before its parts are removed (default 24h)")


def export(options: argparse.Namespace, database: str) -> str | None:
    """Hand ``serve``'s file options to its workers; a warning to print when the files have nowhere to go."""
    if options.storage:
        os.environ[STORAGE_VARIABLE] = options.storage
    os.environ[MAX_UPLOAD_VARIABLE] = options.max_upload
    os.environ[UPLOAD_EXPIRY_VARIABLE] = options.upload_expiry
    if not os.environ.get(STORAGE_VARIABLE) and not database.startswith("sqlite"):
        return ("warning: this server keeps no files (components in the server location): a server on PostgreSQL "
                f"needs --storage DIR (or ${STORAGE_VARIABLE}), a folder every worker reaches")  # fmt: skip
    return None


def configure_from_environment(backend: Backend) -> None:
    """Set ``backend.files`` as ``serve`` said (the storage itself is read from the environment on first use)."""
    max_upload = parse_size(os.environ.get(MAX_UPLOAD_VARIABLE) or "0")
    expiry = parse_age(os.environ.get(UPLOAD_EXPIRY_VARIABLE) or f"{int(EXPIRY.total_seconds())}s")
    backend.files.configure(None, max_upload=max_upload, upload_expiry=expiry)


def cleanup_interval(expiry: datetime.timedelta) -> float:
    """Seconds between two cleanups: a tenth of the expiry, between a minute and an hour."""
    return min(3600.0, max(60.0, expiry.total_seconds() / 10))


@contextlib.asynccontextmanager
async def cleaning(backend: Backend) -> AsyncIterator[None]:
    """Clean up abandoned uploads now and then, for as long as the block runs."""

    async def clean() -> None:
        while True:
            await anyio.sleep(cleanup_interval(backend.files.uploads.expiry))
            try:
                await anyio.to_thread.run_sync(backend.files.clean_up)
            except Exception:  # the database or the storage may be away for a while: next time
                log.warning("cleaning up abandoned uploads failed", exc_info=True)

    try:  # the signing secret read (or made) now, never first inside a batch that holds SQLite's write lock
        await anyio.to_thread.run_sync(backend.files.signer.secret)
    except Exception:  # the database may be away: the first batch that needs it reads it
        log.warning("reading the files' signing secret failed", exc_info=True)
    try:  # encoding jobs a stopped server of this machine left queued or running: failed, saying so
        await anyio.to_thread.run_sync(backend.files.media.recover)
    except Exception:
        log.warning("failing the encoding jobs of a stopped server failed", exc_info=True)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(clean)
        try:
            yield
        finally:
            tasks.cancel_scope.cancel()
