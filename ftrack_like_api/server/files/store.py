"""Where the server location's files are kept: the :class:`FileStore` interface and a folder of files.

A store keeps bytes under keys. A key is a component id, and only a UUID-shaped one: file
names sent by clients are metadata and never become paths, so no key can leave the store
(``..``, absolute paths, NUL bytes and 4,000-character names are refused with
:class:`KeyRefused`). Uploads in parts keep each part under the upload's id until
:meth:`FileStore.assemble` makes the key's file of them; nothing is visible under the key
before that.

:class:`~.folder.FolderStore` (``folder.py``) keeps them in a folder (a local disk or a shared mount
serving several workers)::

    ROOT/components/<id[:2]>/<id>        the component's file
    ROOT/uploads/<upload id>/data        the parts of an unfinished upload, each written at its offset
    ROOT/uploads/<upload id>/<part>.json a part's size and sums, once it is written whole and verified
    ROOT/thumbnails/<id>/<size>.jpg      scaled thumbnails (a cache)

Every write goes to a temporary file in the destination's folder, is flushed to the disk
(``fsync``) and renamed over the destination: a reader sees the whole old file or the whole
new one, never half of either. The parts of an upload are the exception: each is written at
its offset into the upload's one ``data`` file (fsynced), and listed only once its record is
written, after its checksum was checked; assembling them is a hard link of that file renamed
over the component's (no byte read or written again; a copy in the kernel where no link can
be made). A disk that is full or cannot be written raises :class:`StoreUnavailable` and
leaves nothing behind.

A store that hands out presigned URLs (S3) answers :meth:`FileStore.begin`,
:meth:`FileStore.upload_urls`, :meth:`FileStore.download_url` and :meth:`FileStore.complete`;
a folder store answers None there and the server carries the bytes itself.

Errors::

    StoreError           (an ftrack_like_api Error) something the store could not do
     ├── KeyRefused       a key, upload id, part number or size that is not one (also a ValueError)
     ├── NotStored        nothing is stored under that key (also a LookupError)
     ├── TooLarge         more bytes than the limit given
     ├── ChecksumMismatch the bytes are not those the sender's checksum names; nothing kept
     └── StoreUnavailable the storage cannot be written or read (disk full, read-only, down)
"""

from __future__ import annotations

import abc
import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ...exceptions import Error

__all__ = [
    "CHUNK",
    "ChecksumMismatch",
    "FileStore",
    "FolderStore",
    "KeyRefused",
    "MAX_PARTS",
    "NotStored",
    "Part",
    "StoreError",
    "StoreUnavailable",
    "TooLarge",
    "UploadTarget",
    "check_key",
    "check_part_number",
]

log = logging.getLogger(__name__)

#: Bytes read or written at a time.
CHUNK = 1024 * 1024
#: The most parts one upload may have (S3's limit).
MAX_PARTS = 10_000

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class StoreError(Error):
    """Something a file store could not do."""


class KeyRefused(StoreError, ValueError):
    """A key, upload id, part number or thumbnail size that cannot be one."""


class NotStored(StoreError, LookupError):
    """Nothing is stored under that key."""


class TooLarge(StoreError):
    """More bytes were sent than the limit allows; nothing was kept."""


class ChecksumMismatch(StoreError):
    """The bytes received are not those the sender's checksum names; nothing was kept."""


class StoreUnavailable(StoreError):
    """The storage cannot be written or read: a full disk, a read-only mount, a store that is down."""


@dataclass(frozen=True)
class Part:
    """What was written: its size in bytes and its MD5 and SHA-256 (hex; ``""`` when not computed).

    A folder store computes only the digests the sender gave a checksum for (both when it
    gave none); :attr:`e_tag` is what names the part to ``complete_multipart_upload``.
    """

    size: int
    md5_hex: str
    sha256_hex: str

    @property
    def e_tag(self) -> str:
        """The part's entity tag (unquoted): its MD5, as S3's, or its SHA-256 when that is all that was computed."""
        return self.md5_hex or self.sha256_hex


@dataclass(frozen=True)
class UploadTarget:
    """An upload as a store sees it: which file it makes and how it is cut into parts.

    ``id`` is the server's upload id (UUID-shaped), ``key`` the component id whose file it
    makes, ``part_size`` the size of every part but the last, ``parts`` how many there are,
    ``checksum`` the base64 MD5 of the whole file when the client gave one, ``store_ref``
    what :meth:`FileStore.begin` returned for it (an S3 multipart upload id; None for a folder).
    """

    id: str
    key: str
    file_size: int
    part_size: int
    parts: int
    checksum: str | None = None
    store_ref: str | None = None


def check_key(key: object) -> str:
    """``key`` if it is UUID-shaped (a component or upload id); else :class:`KeyRefused`."""
    if not isinstance(key, str) or len(key) != 36 or not _UUID.fullmatch(key):
        shown = repr(key)[:60]
        raise KeyRefused(f"Not a component or upload id: {shown} (ids are UUIDs)")
    return key


def check_part_number(number: object) -> int:
    """``number`` if it is a part number (1 to :data:`MAX_PARTS`); else :class:`KeyRefused`."""
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_PARTS:
        raise KeyRefused(f"Not a part number: {number!r} (1 to {MAX_PARTS})")
    return number


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 10_000:
        raise KeyRefused(f"Not a thumbnail size: {size!r} (1 to 10000 pixels)")
    return size


class FileStore(abc.ABC):
    """Bytes under component ids: parts of uploads, whole files, thumbnails. All methods are blocking.

    ``chunks`` arguments are iterables of bytes, consumed once; ``limit`` is the most bytes
    accepted (:class:`TooLarge` past it, and nothing kept). ``md5_b64`` (base64, as HTTP's
    ``Content-MD5``) and ``sha256_hex`` are checked when given (:class:`ChecksumMismatch`).
    """

    @abc.abstractmethod
    def write_part(self, upload: UploadTarget, number: int, chunks: Iterable[bytes], limit: int, *,
                   md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        """Keep part ``number`` of ``upload`` (replacing one sent before)."""

    @abc.abstractmethod
    def parts(self, upload: UploadTarget) -> dict[int, Part]:
        """The parts of ``upload`` kept so far, by number."""

    @abc.abstractmethod
    def assemble(self, upload: UploadTarget, numbers: Sequence[int]) -> int:
        """Make ``upload.key``'s file of the parts ``numbers`` in that order; its size. The parts stay until :meth:`discard`."""

    @abc.abstractmethod
    def discard(self, upload: UploadTarget) -> None:
        """Forget ``upload``'s parts (an upload completed or abandoned); nothing if there are none."""

    @abc.abstractmethod
    def write_file(self, key: str, chunks: Iterable[bytes], limit: int, *,
                   md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        """Keep ``key``'s file in one go (replacing the one before, atomically)."""

    @abc.abstractmethod
    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``start`` to ``end`` (excluded; None: to the end) of ``key``'s file, a chunk at a time.

        Raises :class:`NotStored` at once (not when iterated) when there is no file.
        """

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The size of ``key``'s file, None if there is none."""

    @abc.abstractmethod
    def remove(self, key: str) -> bool:
        """Remove ``key``'s file and its thumbnails; whether there was a file."""

    @abc.abstractmethod
    def read_thumbnail(self, key: str, size: int) -> bytes | None:
        """The cached thumbnail of ``key`` at ``size`` pixels, None if there is none."""

    @abc.abstractmethod
    def write_thumbnail(self, key: str, size: int, data: bytes) -> None:
        """Cache the thumbnail of ``key`` at ``size`` pixels."""

    def thumbnail_path(self, key: str, size: int) -> Path | None:
        """Where the thumbnail of ``key`` at ``size`` pixels is kept, for a store on a disk; else None."""
        return None

    def path(self, key: str) -> Path | None:
        """Where ``key``'s file is, for a store on a disk (whether or not it exists yet); else None."""
        return None

    def keys(self, older_than: float) -> Iterator[str] | None:
        """The keys of files last written before ``older_than`` (Unix time), for the cleanup's sweep; None: not listed."""
        return None

    # Presigned transfers: a store the clients reach directly (S3) answers these.

    def begin(self, upload: UploadTarget) -> str | None:
        """Start ``upload`` in the store; what to keep as its ``store_ref`` (None: nothing to start)."""
        return None

    def upload_urls(self, upload: UploadTarget, numbers: Sequence[int], expires: int) -> list[str] | None:
        """Presigned PUT URLs for parts ``numbers`` of ``upload`` (one part: the whole file); None: the server receives them."""
        return None

    def download_url(self, key: str, filename: str, expires: int) -> str | None:
        """A presigned GET URL of ``key``'s file, saved as ``filename``; None: the server serves it."""
        return None

    def complete(self, upload: UploadTarget, parts: Sequence[tuple[int, str]]) -> int | None:
        """Finish a presigned ``upload`` from its ``(number, e_tag)`` parts; its size. None: use :meth:`assemble`."""
        return None


class _Sums:
    """The size, MD5 and SHA-256 of bytes as they go by (either digest may be left out: ``""``)."""

    def __init__(self, md5: bool = True, sha256: bool = True) -> None:
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self.sha256 = hashlib.sha256() if sha256 else None

    @classmethod
    def asked(cls, md5_b64: str | None, sha256_hex: str | None) -> _Sums:
        """The digests a sender's checksums need; both when it sent none (one pass of each is the costliest part of a receive)."""
        if md5_b64 is None and sha256_hex is None:
            return cls()
        return cls(md5=md5_b64 is not None, sha256=sha256_hex is not None)

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.md5 is not None:
            self.md5.update(chunk)
        if self.sha256 is not None:
            self.sha256.update(chunk)

    def part(self) -> Part:
        return Part(self.size, self.md5.hexdigest() if self.md5 else "", self.sha256.hexdigest() if self.sha256 else "")

    def check(self, md5_b64: str | None, sha256_hex: str | None) -> None:
        md5, sha256 = self.md5 or hashlib.md5(usedforsecurity=False), self.sha256 or hashlib.sha256()
        if md5_b64 is not None and base64.b64encode(md5.digest()).decode() != md5_b64.strip():
            raise ChecksumMismatch("The bytes received do not match their Content-MD5; nothing was kept")
        if sha256_hex is not None and sha256.hexdigest() != sha256_hex.strip().lower():
            raise ChecksumMismatch("The bytes received do not match their SHA-256; nothing was kept")


class _SourceFailed(Exception):
    """The bytes' source failed (a client gone away), not the storage."""

    def __init__(self, error: OSError) -> None:
        self.error = error


def _from_source(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks``, with the source's own OSErrors told apart from the storage's."""
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except OSError as error:
            raise _SourceFailed(error) from error
        yield chunk


# The folder store lives in folder.py (it imports this module: the names above are defined by now).
from .folder import FolderStore  # noqa: E402
