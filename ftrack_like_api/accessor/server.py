"""The server location's accessor: bytes go through the session's file channel.

``session.transport.files()`` is a :class:`~ftrack_like_api.transport.files.FileChannel`:
over HTTP it uploads in parts, several at once, resumes what the server already holds
and downloads with ``Range``; in the embedded mode it hands the file to the server's
storage in this process. The resource identifier is the component's id, as ftrack's.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import TYPE_CHECKING, Any

from ..data import Data, File, FileWrapper
from ..exceptions import AccessorOperationFailedError, AccessorUnsupportedOperationError, Error
from .base import Accessor

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["ServerAccessor"]

#: The size of a thumbnail link's image when none is asked for (the server's default, ftrack clients' 300).
DEFAULT_THUMBNAIL_SIZE = 300

log = logging.getLogger(__name__)


class _Download(Data):
    """Reads a stored file as the channel streams it."""

    def __init__(self, stream: Any) -> None:
        super().__init__()
        self._stream = stream

    def read(self, limit: int | None = None) -> bytes:
        return self._stream.read(-1 if limit is None else limit)  # type: ignore[no-any-return]

    def write(self, content: Any) -> None:
        raise AccessorUnsupportedOperationError(operation="write to a file opened for reading")

    def close(self) -> None:
        if not self.closed:
            super().close()
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()


class _Upload(FileWrapper):
    """Collects what is written in a temporary file and uploads it on close."""

    def __init__(self, accessor: ServerAccessor, resource_identifier: str) -> None:
        super().__init__(tempfile.TemporaryFile())
        self._accessor = accessor
        self._resource_identifier = resource_identifier

    def close(self) -> None:
        if self.closed:
            return
        self.wrapped_file.flush()
        size = self.wrapped_file.seek(0, os.SEEK_END)
        self.wrapped_file.seek(0)
        try:
            self._accessor.upload(self._resource_identifier, self.wrapped_file, size)
        finally:
            super().close()


class ServerAccessor(Accessor):
    """Files kept by the server (the ``ftrack.server`` location), reached through ``session.transport.files()``.

    ``get_url`` is a signed link that expires (never a password in a URL);
    ``get_filesystem_path`` is not offered. Listing and containers are not either: a
    container's members are stored one by one, each under its own id. ``progress`` is
    what uploads report to: True (the default) draws a bar when standard error is a
    terminal, a callable is called ``progress(done, total)``, None says nothing.
    ``part_size`` (bytes) is the size of the parts a large file goes in, None the
    channel's own (64 MiB); sending a file again after a cut sends only the parts the
    server does not hold, so long as the part size is the same.
    """

    def __init__(self, session: Session, progress: Any = True, part_size: int | None = None) -> None:
        self.session = session
        self.progress = progress
        self.part_size = part_size

    def __repr__(self) -> str:
        return f"ServerAccessor({self.session!r})"

    def _channel(self) -> Any:
        try:
            return self.session.transport.files()  # type: ignore[attr-defined]
        except AttributeError as error:
            raise AccessorUnsupportedOperationError(
                f"{type(self.session.transport).__name__} moves no files: the server location needs a transport "
                "with a file channel", operation="files") from error  # fmt: skip

    def _file_name(self, component_id: str) -> str:
        component = self.session.get("FileComponent", component_id)
        if component is None:
            raise AccessorOperationFailedError(operation="upload", resource_identifier=component_id,
                                               error="no component with that id")  # fmt: skip
        name, file_type = component["name"] or "file", component["file_type"] or ""
        return f"{name}.{file_type.lstrip('.')}" if file_type else str(name)

    def upload(self, resource_identifier: str, source: Any, size: int | None = None, **options: Any) -> None:
        """Upload ``source`` (a path or a binary file object) as the file of component ``resource_identifier``."""
        if size is None:
            size = os.path.getsize(source) if isinstance(source, (str, os.PathLike)) else None
        options.setdefault("progress", self.progress)
        if self.part_size is not None:
            options.setdefault("part_size", self.part_size)
        try:
            self._channel().upload(resource_identifier, self._file_name(resource_identifier), source, size, **options)
        except (Error, OSError) as error:
            if isinstance(error, AccessorOperationFailedError):
                raise
            raise AccessorOperationFailedError(operation="upload", resource_identifier=resource_identifier,
                                               error=error) from error  # fmt: skip

    def write_from(self, resource_identifier: str, source: Data, size: int | None = None, **options: Any) -> None:
        """Upload straight from ``source``: a file on disk by its path (parts read at once), else as it reads."""
        if isinstance(source, File) and "b" in source.wrapped_file.mode:
            self.upload(resource_identifier, source.path, size, **options)
        elif isinstance(source, FileWrapper):
            self.upload(resource_identifier, source.wrapped_file, size, **options)
        else:
            super().write_from(resource_identifier, source, size)

    def open(self, resource_identifier: str, mode: str = "rb") -> Data:
        if "r" in mode and "+" not in mode:
            try:
                return _Download(self._channel().open(resource_identifier))
            except (Error, OSError) as error:
                raise AccessorOperationFailedError(operation="open", resource_identifier=resource_identifier,
                                                   error=error) from error  # fmt: skip
        if mode.startswith("w"):
            return _Upload(self, resource_identifier)
        raise AccessorUnsupportedOperationError(operation=f"open with mode {mode!r}", resource_identifier=resource_identifier)

    def remove(self, resource_identifier: str) -> None:
        try:
            self._channel().remove(resource_identifier)
        except (Error, OSError) as error:
            raise AccessorOperationFailedError(operation="remove", resource_identifier=resource_identifier,
                                               error=error) from error  # fmt: skip

    def get_url(self, resource_identifier: str) -> str:
        """A signed link that reads the file for an hour (in the embedded mode, a ``file://`` URL)."""
        return str(self._channel().url(resource_identifier))

    def get_thumbnail_url(self, resource_identifier: str, size: int | None = None) -> str:
        """A signed URL of the image scaled on the server to fit ``size`` × ``size`` pixels (over HTTP only).

        Asked of the server (``generate_signed_url`` with ``thumbnail_size``): a link to its
        own thumbnail route whatever store keeps the file, never a password in it.
        """
        operation = {"action": "generate_signed_url", "component_id": resource_identifier,
                     "thumbnail_size": size or DEFAULT_THUMBNAIL_SIZE}  # fmt: skip
        try:
            url = self.session.call([operation])[0]["signed_url"]
        except Error as error:
            raise AccessorOperationFailedError(operation="get_thumbnail_url", resource_identifier=resource_identifier,
                                               error=error) from error  # fmt: skip
        if not str(url).startswith(("http://", "https://")):  # the embedded mode: no server scales images
            raise AccessorUnsupportedOperationError(operation="get_thumbnail_url", resource_identifier=resource_identifier)
        return str(url)

    def exists(self, resource_identifier: str) -> bool:
        """False, as ftrack's: the server refuses a second file for a component itself."""
        return False

    def get_container(self, resource_identifier: str) -> None:
        return None

    def make_container(self, resource_identifier: str, recursive: bool = True) -> None:
        """Nothing to make: the server keeps each file under its own id."""

    def list(self, resource_identifier: str) -> list[str]:
        raise AccessorUnsupportedOperationError(operation="list", resource_identifier=resource_identifier)

    def is_file(self, resource_identifier: str) -> bool:
        raise AccessorUnsupportedOperationError(operation="is_file", resource_identifier=resource_identifier)

    def is_container(self, resource_identifier: str) -> bool:
        raise AccessorUnsupportedOperationError(operation="is_container", resource_identifier=resource_identifier)

    def is_sequence(self, resource_identifier: str) -> bool:
        raise AccessorUnsupportedOperationError(operation="is_sequence", resource_identifier=resource_identifier)
