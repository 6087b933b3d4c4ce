"""File-like objects an accessor hands out, with ftrack's names: :class:`Data`, :class:`File`, :class:`String`.

``location.accessor.open(resource_identifier, "rb")`` gives a :class:`Data`: ``read``,
``write``, ``seek``, ``tell``, ``close`` (and ``with`` blocks). A location copies
between two of them a chunk at a time (:data:`~ftrack_like_api.symbol.CHUNK_SIZE`), so
no file is ever whole in memory.
"""

from __future__ import annotations

import abc
import os
import tempfile
from typing import IO, Any

__all__ = ["Data", "File", "FileWrapper", "String"]


class Data(abc.ABC):
    """A file-like object: read and write at a position; ``close`` flushes."""

    def __init__(self) -> None:
        self.closed = False

    @abc.abstractmethod
    def read(self, limit: int | None = None) -> Any:
        """What is there from the position on, at most ``limit`` (bytes, or text for a text :class:`String`)."""

    @abc.abstractmethod
    def write(self, content: Any) -> None:
        """Write ``content`` at the position."""

    def flush(self) -> None:  # noqa: B027 - most data has nothing to flush
        """Make sure what was written is stored."""

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> None:
        """Move the position (``whence`` as for files); not every kind of data can."""
        raise NotImplementedError(f"Seek not supported by {type(self).__name__}.")

    def tell(self) -> int:
        """The position."""
        raise NotImplementedError(f"Tell not supported by {type(self).__name__}.")

    def close(self) -> None:
        """Flush and let go; reading or writing afterwards is an error."""
        if not self.closed:
            self.flush()
            self.closed = True

    def __enter__(self) -> Data:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FileWrapper(Data):
    """:class:`Data` over an open Python file object."""

    def __init__(self, wrapped_file: IO[Any]) -> None:
        super().__init__()
        self.wrapped_file = wrapped_file

    def read(self, limit: int | None = None) -> Any:
        return self.wrapped_file.read(-1 if limit is None else limit)

    def write(self, content: Any) -> None:
        self.wrapped_file.write(content)

    def flush(self) -> None:
        self.wrapped_file.flush()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> None:
        self.wrapped_file.seek(offset, whence)

    def tell(self) -> int:
        return self.wrapped_file.tell()

    def close(self) -> None:
        if not self.closed:
            super().close()
            self.wrapped_file.close()


class File(FileWrapper):
    """:class:`Data` of the file at ``path``, opened with ``mode``."""

    def __init__(self, path: str | os.PathLike[str], mode: str = "rb") -> None:
        #: The file's path: a copy may hand it on instead of the bytes (an upload reads parts at once).
        self.path = os.fspath(path)
        super().__init__(open(self.path, mode))  # noqa: SIM115 - closed by close()


class String(FileWrapper):
    """:class:`Data` held in a temporary file, starting with ``content``; text in, text out."""

    def __init__(self, content: str | bytes | None = None) -> None:
        super().__init__(tempfile.TemporaryFile())
        self.is_binary = not isinstance(content, str)
        if content is not None:
            self.wrapped_file.write(content.encode() if isinstance(content, str) else content)
            self.wrapped_file.seek(0)

    def write(self, content: Any) -> None:
        if isinstance(content, str):
            self.is_binary = False
            content = content.encode()
        super().write(content)

    def read(self, limit: int | None = None) -> Any:
        content = super().read(limit)
        return content if self.is_binary else content.decode("utf-8")
