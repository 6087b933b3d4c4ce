"""The folder store: a :class:`~.store.FileStore` over a folder of files (a local disk or a shared mount).

Its layout, and how its writes stay whole, are in :mod:`.store`'s docstring.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

from .store import (
    CHUNK,
    FileStore,
    NotStored,
    Part,
    StoreUnavailable,
    TooLarge,
    UploadTarget,
    _check_size,
    _from_source,
    _SourceFailed,
    _UUID,
    _Sums,
    check_key,
    check_part_number,
)

__all__ = ["FolderStore"]

log = logging.getLogger(__name__)

#: The file of an upload's folder that holds its parts, each at its offset.
_DATA = "data"


def _unavailable(error: OSError, doing: str) -> StoreUnavailable:
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the storage is read-only",
        errno.EDQUOT: "the disk quota is used up",
        errno.EACCES: "the server may not write there",
        errno.EPERM: "the server may not write there",
    }.get(  # fmt: skip
        error.errno or 0, error.strerror or type(error).__name__
    )
    log.error("file storage failed %s: %s", doing, error)
    return StoreUnavailable(f"The file storage cannot be written or read ({reason}); nothing was kept")


class FolderStore(FileStore):
    """A :class:`FileStore` in a folder: ``root`` (made on first write) on a local disk or a shared mount."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def __repr__(self) -> str:
        return f"FolderStore({str(self.root)!r})"

    # Where things are.

    def path(self, key: str) -> Path:
        key = check_key(key)
        return self.root / "components" / key[:2] / key

    def _upload_folder(self, upload: UploadTarget) -> Path:
        return self.root / "uploads" / check_key(upload.id)

    def thumbnail_path(self, key: str, size: int) -> Path:
        return self.root / "thumbnails" / check_key(key) / f"{_check_size(size)}.jpg"

    # Writing.

    def _write(self, destination: Path, chunks: Iterable[bytes], limit: int,
               md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        """Write ``chunks`` to ``destination`` atomically (temporary file, fsync, rename)."""
        sums = _Sums.asked(md5_b64, sha256_hex)
        temporary: str | None = None
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".incoming-")
            with os.fdopen(handle, "wb") as out:
                for chunk in _from_source(chunks):
                    if not chunk:
                        continue
                    sums.add(chunk)
                    if sums.size > limit:
                        raise TooLarge(f"More than {limit} bytes were sent; nothing was kept")
                    out.write(chunk)
                sums.check(md5_b64, sha256_hex)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, destination)
            temporary = None
            _sync_folder(destination.parent)
        except _SourceFailed as failed:
            raise failed.error from None
        except OSError as error:
            raise _unavailable(error, f"writing {destination}") from error
        finally:
            if temporary is not None:
                _unlink(Path(temporary))
        return sums.part()

    def write_part(self, upload: UploadTarget, number: int, chunks: Iterable[bytes], limit: int, *,
                   md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        folder = self._upload_folder(upload)
        number = check_part_number(number)
        sidecar = folder / f"{number}.json"
        _unlink(sidecar)  # the part about to be replaced is not listed meanwhile
        part = self._write_at(folder / _DATA, (number - 1) * upload.part_size, chunks, limit, md5_b64, sha256_hex)
        record = json.dumps({"size": part.size, "md5": part.md5_hex, "sha256": part.sha256_hex}).encode()
        self._write(sidecar, [record], len(record))
        return part

    def _write_at(self, data: Path, offset: int, chunks: Iterable[bytes], limit: int,
                  md5_b64: str | None, sha256_hex: str | None) -> Part:  # fmt: skip
        """Write ``chunks`` into the upload's one file ``data`` at ``offset``, fsynced; listed by its record only after."""
        sums = _Sums.asked(md5_b64, sha256_hex)
        try:
            data.parent.mkdir(parents=True, exist_ok=True)
            _unshare(data)
            handle = os.open(data, os.O_WRONLY | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
            try:
                os.lseek(handle, offset, os.SEEK_SET)  # this descriptor is this part's own
                for chunk in _from_source(chunks):
                    if not chunk:
                        continue
                    sums.add(chunk)
                    if sums.size > limit:
                        raise TooLarge(f"More than {limit} bytes were sent; nothing was kept")
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(handle, view) :]
                sums.check(md5_b64, sha256_hex)
                os.fsync(handle)
            finally:
                os.close(handle)
        except _SourceFailed as failed:
            raise failed.error from None
        except OSError as error:
            raise _unavailable(error, f"writing {data}") from error
        return sums.part()

    def parts(self, upload: UploadTarget) -> dict[int, Part]:
        folder = self._upload_folder(upload)
        found: dict[int, Part] = {}
        try:
            sidecars = list(folder.glob("*.json"))
            held = (folder / _DATA).stat().st_size if sidecars else 0
        except OSError:  # an unreadable folder, or records without their data, lists nothing
            return found
        for sidecar in sidecars:
            number = sidecar.name[: -len(".json")]
            if not number.isdigit():
                continue
            try:
                record = json.loads(sidecar.read_bytes())
                part = Part(int(record["size"]), str(record["md5"]), str(record["sha256"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if (int(number) - 1) * upload.part_size + part.size <= held:
                found[int(number)] = part
        return found

    def assemble(self, upload: UploadTarget, numbers: Sequence[int]) -> int:
        """Make the key's file of the upload's one file, whose parts were written at their offsets and verified then.

        Hard-linked to a temporary name beside the destination and renamed over it: no byte is
        read or written again. Where the folder cannot link (another filesystem), the parts
        are copied in the kernel (``copy_file_range``) instead. The upload's file stays until
        :meth:`discard`; a part written to it again before then first gets a copy of its own.
        """
        folder = self._upload_folder(upload)
        numbers = [check_part_number(number) for number in numbers]
        stored = self.parts(upload)
        missing = [number for number in numbers if number not in stored]
        if missing:
            raise NotStored(f"Upload {upload.id} has no part {', '.join(map(str, missing))}")
        size = sum(stored[number].size for number in numbers)
        if size > upload.file_size:
            raise TooLarge(f"The parts hold more than the upload's {upload.file_size} bytes; nothing was kept")
        data, destination = folder / _DATA, self.path(upload.key)
        in_place = numbers == list(range(1, len(numbers) + 1)) and all(
            stored[number].size == upload.part_size for number in numbers[:-1]
        )
        temporary: str | None = None
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            if in_place and data.stat().st_size == size:
                temporary = _link(data, destination.parent)
            if temporary is None:
                handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".incoming-")
                with os.fdopen(handle, "wb") as out, data.open("rb") as source:
                    for number in numbers:
                        os.lseek(source.fileno(), (number - 1) * upload.part_size, os.SEEK_SET)
                        if _copy_into(source.fileno(), out.fileno(), stored[number].size) != stored[number].size:
                            raise NotStored(f"Upload {upload.id} lost bytes of part {number}")
                    os.fsync(out.fileno())
            os.replace(temporary, destination)
            temporary = None
            _sync_folder(destination.parent)
        except OSError as error:
            raise _unavailable(error, f"assembling {destination}") from error
        finally:
            if temporary is not None:
                _unlink(Path(temporary))
        return size

    def discard(self, upload: UploadTarget) -> None:
        shutil.rmtree(self._upload_folder(upload), ignore_errors=True)

    def write_file(self, key: str, chunks: Iterable[bytes], limit: int, *,
                   md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        return self._write(self.path(key), chunks, limit, md5_b64, sha256_hex)

    # Reading.

    def open(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            source = self.path(key).open("rb")
        except FileNotFoundError:
            raise NotStored(f"No file is stored for component {key}") from None
        except OSError as error:
            raise _unavailable(error, f"reading {key}") from error
        return _read(source, start, end)

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def remove(self, key: str) -> bool:
        path = self.path(key)
        shutil.rmtree(self.root / "thumbnails" / key, ignore_errors=True)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise _unavailable(error, f"removing {key}") from error
        return True

    def read_thumbnail(self, key: str, size: int) -> bytes | None:
        try:
            return self.thumbnail_path(key, size).read_bytes()
        except FileNotFoundError:
            return None

    def write_thumbnail(self, key: str, size: int, data: bytes) -> None:
        self._write(self.thumbnail_path(key, size), [data], len(data))

    # Housekeeping.

    def upload_ids(self) -> list[str]:
        """The ids of the uploads that have parts kept (for cleaning up abandoned ones)."""
        try:
            return [entry.name for entry in (self.root / "uploads").iterdir() if _UUID.fullmatch(entry.name)]
        except FileNotFoundError:
            return []

    def keys(self, older_than: float) -> Iterator[str]:
        try:
            folders = list(os.scandir(self.root / "components"))
        except FileNotFoundError:
            return
        for folder in folders:
            try:
                entries = list(os.scandir(folder.path)) if folder.is_dir() else []
            except OSError:
                continue
            for entry in entries:
                try:
                    if _UUID.fullmatch(entry.name) and entry.stat().st_mtime < older_than:
                        yield entry.name
                except OSError:
                    continue

    def discard_id(self, upload_id: str) -> None:
        """Forget the parts kept under ``upload_id`` (one that belongs to no upload any more)."""
        shutil.rmtree(self.root / "uploads" / check_key(upload_id), ignore_errors=True)


def _read(source: IO[bytes], start: int, end: int | None) -> Iterator[bytes]:
    with source:
        source.seek(max(start, 0))
        left = None if end is None else max(end - max(start, 0), 0)
        while left is None or left > 0:
            chunk = source.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            yield chunk


def _copy_into(source: int, target: int, count: int) -> int:
    """Copy ``count`` bytes from ``source``'s position to ``target``'s (descriptors) in the kernel; the bytes copied.

    ``os.copy_file_range`` (Linux: no bytes through Python, a reflink where the filesystem has
    them), else ``os.sendfile``, else a buffered loop. Fewer only when ``source`` ends first.
    """
    done = 0
    copy_range = getattr(os, "copy_file_range", None)
    while done < count:
        try:
            if copy_range is not None:
                sent = copy_range(source, target, min(count - done, 1 << 30))
            else:
                sent = os.sendfile(target, source, None, min(count - done, 1 << 30))
        except OSError as error:
            if done or error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            return _copy_loop(source, target, count)
        if not sent:
            break
        done += sent
    return done


def _copy_loop(source: int, target: int, count: int) -> int:
    done = 0
    while done < count:
        chunk = os.read(source, min(CHUNK * 8, count - done))
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]
        done += len(chunk)
    return done


def _link(data: Path, folder: Path) -> str | None:
    """A new hard link to ``data`` under a temporary name in ``folder``; None where links cannot be made there."""
    temporary = folder / f".incoming-{uuid.uuid4().hex}"
    try:
        os.link(data, temporary)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            raise
        return None
    return str(temporary)


def _unshare(data: Path) -> None:
    """Give an upload's file a copy of its own when it is linked as a component's file too (a part sent after assembly)."""
    try:
        if data.stat().st_nlink <= 1:
            return
    except FileNotFoundError:
        return
    handle, temporary = tempfile.mkstemp(dir=data.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as out, data.open("rb") as source:
            _copy_into(source.fileno(), out.fileno(), os.fstat(source.fileno()).st_size)
        os.replace(temporary, data)
    finally:
        _unlink(Path(temporary))


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename) to the disk, where the platform allows it."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(handle)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(handle)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
