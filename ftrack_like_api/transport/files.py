"""How a client moves a component's bytes: the :class:`FileChannel` a transport gives (``transport.files()``).

A channel uploads a file to the server location under a component id, downloads it (from
an offset, to resume), opens it as a stream, makes a link to it, and removes it. Neither
direction holds a whole file in memory. Failures are
:class:`~ftrack_like_api.exceptions.FileTransferError`.

- :class:`~ftrack_like_api.transport.http_files.HttpFileChannel`: over HTTP, in ftrack's
  wire protocol (parts, resume, checksums).
- :class:`~ftrack_like_api.transport.local.LocalFileChannel`: in-process, for an embedded
  database (``backend.files``).

``progress``: ``True`` shows a tqdm bar when standard error is a terminal; a callable is
called as ``progress(done, total)`` (bytes) as the transfer goes, from any thread.
"""

from __future__ import annotations

import abc
import io
import os
import sys
import threading
from typing import IO, Any, BinaryIO, Callable, Union

__all__ = ["CHUNK", "DEFAULT_PART_SIZE", "FileChannel", "MAX_PARTS", "Progress", "ProgressArgument", "Source", "size_of"]

#: Bytes read or written at a time.
CHUNK = 1024 * 1024

#: The size of the parts a large file is sent in, and the largest file sent in one piece.
DEFAULT_PART_SIZE = 64 * 1024 * 1024

#: The most parts one upload may have (as S3's): a larger file goes in larger parts.
MAX_PARTS = 10_000

#: ``True`` (a bar on a terminal), a callable ``progress(done, total)``, or None.
ProgressArgument = Union[bool, Callable[[int, int], Any], None]

#: A file's path, or a binary file object open for reading.
Source = Union[str, "os.PathLike[str]", BinaryIO, IO[bytes]]


class FileChannel(abc.ABC):
    """Moves the bytes of components stored in the server location."""

    @abc.abstractmethod
    def upload(self, component_id: str, name: str, source: Source, size: int | None = None, *,
               part_size: int | None = None, parallel: int = 4, progress: ProgressArgument = None) -> None:  # fmt: skip
        """Store ``source`` (a path or a binary file object) as the file of ``component_id``.

        ``name`` is the file's name (metadata only: it never becomes a path). ``size``
        defaults to the file's. Large files go in parts of ``part_size`` bytes,
        ``parallel`` at a time; sending the same file again after a cut sends only the
        parts the server does not hold yet.
        """

    @abc.abstractmethod
    def download(self, component_id: str, destination: IO[bytes], *, start: int = 0,
                 progress: ProgressArgument = None) -> int:  # fmt: skip
        """Write the file of ``component_id`` from byte ``start`` on to ``destination``; the bytes written."""

    @abc.abstractmethod
    def open(self, component_id: str) -> IO[bytes]:
        """The file of ``component_id`` as a readable binary stream (close it when done)."""

    @abc.abstractmethod
    def url(self, component_id: str, expires: int = 3600) -> str:
        """A link to the file of ``component_id`` that needs no other credential, for ``expires`` seconds."""

    @abc.abstractmethod
    def remove(self, component_id: str) -> None:
        """Remove the stored file of ``component_id``."""


def size_of(source: Source, size: int | None = None) -> int:
    """The bytes ``source`` holds from where it stands (``size`` when given)."""
    if size is not None:
        if size < 0:
            raise ValueError(f"A file's size cannot be negative, not {size}")
        return size
    if isinstance(source, (str, os.PathLike)):
        return os.stat(source).st_size
    try:
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
    except (AttributeError, OSError, ValueError) as error:
        raise ValueError(f"The size of {source!r} cannot be known: pass size=") from error
    return end - here


class Progress:
    """Counts the bytes of one transfer for a bar or a callback; safe from several threads."""

    def __init__(self, progress: ProgressArgument, total: int, description: str = "") -> None:
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._callback: Callable[[int, int], Any] | None = None
        self._bar: Any = None
        if callable(progress):
            self._callback = progress
        elif progress is True and _is_terminal(sys.stderr):
            from tqdm import tqdm  # type: ignore[import-untyped]  # loads only when a bar is shown

            self._bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=description,
                             file=sys.stderr, leave=True)  # fmt: skip

    def advance(self, count: int) -> None:
        """``count`` more bytes moved (negative: taken back, when a cut part is sent again)."""
        if not count:
            return
        with self._lock:
            self.done += count
            done = self.done
            if self._bar is not None:
                self._bar.update(count)
        if self._callback is not None:
            self._callback(done, self.total)

    def close(self) -> None:
        """Close the bar, if there is one."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
