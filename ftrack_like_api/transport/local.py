"""In-process transport: the embedded mode, ``Session(server_url="sqlite:///studio.db")``.

The batch goes straight to :class:`~ftrack_like_api.server.Backend`. By default it
goes through JSON both ways, so the session sees exactly what it would see over HTTP
(and a value that could not travel fails here too). The backend — and with it the
server package and SQLAlchemy — is loaded when the first batch is sent, not before.

Events (:meth:`LocalTransport.events`) are read from the database's log directly: the
stream polls it (through the backend's broker), so this process sees what other
processes on the same database commit and publish.

Files (:meth:`LocalTransport.files`) go straight to the backend's storage
(``backend.files``), a chunk at a time, as the same user.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import threading
from typing import IO, TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from ..event.channel import Channel, Stream, Subscription
from ..event.expression import parse, wanted
from ..exceptions import DatabaseError, Error, EventHubConnectionError, ExpressionError, FileTransferError, ServerError
from .base import Transport, answer_of
from .files import CHUNK, FileChannel, Progress, ProgressArgument, Source, size_of

if TYPE_CHECKING:
    from ..server import Backend

__all__ = ["LocalFileChannel", "LocalTransport"]

SCHEMES = ("sqlite:", "postgresql:", "postgres:")


class LocalTransport(Transport):
    """Hands batches to a backend in this process, acting as ``user``.

    ``url`` is a database URL (``sqlite:///studio.db``, ``postgresql://…``); a new
    database is created and seeded on the first batch. ``json_round_trip=False`` skips
    the JSON encoding both ways: faster, but the session then shares the answer's
    objects with nobody and must not rely on JSON's conversions.
    """

    def __init__(self, url: str, user: str, json_round_trip: bool = True) -> None:
        if not isinstance(url, str) or not url.startswith(SCHEMES):
            raise ValueError(f"LocalTransport needs a database URL (sqlite:///path or postgresql://…), not {url!r}")
        if not user:
            raise ValueError("LocalTransport needs the user to act as (api_user)")
        self.url = url
        self.user = user
        self.json_round_trip = json_round_trip
        self._backend: Backend | None = None
        self._lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        """The backend, opened (created and seeded, if new) on first use; DatabaseError when it cannot be."""
        with self._lock:
            if self._backend is None:
                try:
                    from ..server import Backend  # the server package loads only here
                except ModuleNotFoundError as missing:
                    raise DatabaseError(f"A database URL ({self.url}) is opened in this process, which needs the "
                                        f"server extra ({missing.name} is not installed): pip install "
                                        "'ftrack-like-api[server]'; or give an http(s):// server's URL") from missing  # fmt: skip
                try:
                    self._backend = Backend.from_url(self.url)
                except DatabaseError:  # says what and where already
                    raise
                except ModuleNotFoundError as missing:  # a database's driver
                    raise DatabaseError(f"Opening {self.url} needs {missing.name}, which is not installed: pip install "
                                        "'ftrack-like-api[postgres]'") from missing  # fmt: skip
                except Exception as error:  # a driver's or SQLAlchemy's error, translated here
                    raise DatabaseError(f"Cannot open {self.url}: {error}") from error
            return self._backend

    def handle(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        if self.json_round_trip:
            try:
                sent = json.loads(json.dumps(list(batch)))
            except (TypeError, ValueError) as error:
                raise TypeError(f"A batch must be JSON: {error}") from error
        else:
            sent = list(batch)
        answer = self.backend.execute(sent, self.user)
        if self.json_round_trip:
            answer = json.loads(json.dumps(answer))
        return answer_of(sent, answer)

    def events(self) -> LocalChannel:
        """The event channel to this database's log (see the module's text)."""
        return LocalChannel(self)

    def files(self) -> LocalFileChannel:
        """The file channel to this database's storage (see the module's text)."""
        return LocalFileChannel(self)

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None

    def __repr__(self) -> str:
        return f"LocalTransport({self.url!r}, user={self.user!r})"


class LocalChannel(Channel):
    """The event log of a :class:`LocalTransport`'s database, read and written in-process as its user."""

    heartbeat = 1.0

    def __init__(self, transport: LocalTransport) -> None:
        self.transport = transport
        self._who: tuple[str, Any] | None = None
        self._hearing = False

    @property
    def backend(self) -> Backend:
        backend = self.transport.backend
        if not self._hearing:  # other processes' commits on the same database wake the stream
            self._hearing = True
            backend.broker.start()
        return backend

    def _user(self) -> tuple[str, Any]:
        """(the user's id, what they may read), once."""
        if self._who is None:
            backend = self.backend
            with backend.engine.connect() as connection:
                principal = backend.permissions.principal(connection, self.transport.user)
            self._who = (principal.id or self.transport.user, principal)
        return self._who

    def _listeners(self) -> Any:
        from ..server.events.listeners import Listeners

        return Listeners(self.backend.engine, self.backend.storage.events)

    def stream(self, after: int | None, subscriptions: Sequence[Subscription]) -> Stream:
        try:
            parsed = [(parse(text), dict(subscriber)) for text, subscriber in subscriptions]
        except ExpressionError:
            raise
        backend = self.backend
        _, principal = self._user()
        return _LocalStream(
            backend, backend.events.last() if after is None else after, parsed, principal, self.heartbeat
        )

    def publish(self, events: Sequence[Mapping[str, Any]]) -> list[int | ServerError]:
        """Each event on its own, by the server's rule for what a client publishes."""
        import sqlalchemy as sa

        from ..exceptions import ValidationError
        from ..server.auth.permissions import PermissionDenied
        from ..server.events.published import from_client

        user_id, principal = self._user()
        results: list[int | ServerError] = []
        for event in events:
            try:
                sent = from_client(json.loads(json.dumps(dict(event))), user_id, self.transport.user)
                results.append(self.backend.publish(sent, principal.id).seq)
            except PermissionDenied as denied:
                results.append(ServerError({"exception": "PermissionError", "content": str(denied),
                                            "error_code": denied.code or "permission_denied"}))  # fmt: skip
            except ValidationError as invalid:
                if invalid.code != "duplicate_event":
                    results.append(ServerError({"exception": "ValidationError", "content": str(invalid),
                                                "error_code": invalid.code or "bad_event"}))  # fmt: skip
                    continue
                table = self.backend.events.table
                with self.backend.engine.connect() as connection:
                    results.append(
                        int(connection.execute(sa.select(table.c.seq).where(table.c.id == event["id"])).scalar_one())
                    )
        return results

    def cursor(self, name: str) -> int | None:
        return self._listeners().cursor(self._user()[0], name)  # type: ignore[no-any-return]

    def set_cursor(self, name: str, seq: int) -> None:
        self._listeners().set_cursor(self._user()[0], name, seq)

    def park(self, name: str, seq: int, event_id: str, error: str, attempts: int) -> None:
        self._listeners().park(self._user()[0], name, seq, event_id, error, attempts)

    def parked(self, name: str | None = None) -> list[dict[str, Any]]:
        return self._listeners().parked(self._user()[0], name)  # type: ignore[no-any-return]

    def unpark(self, name: str, seq: int) -> None:
        self._listeners().unpark(self._user()[0], name, seq)

    def __repr__(self) -> str:
        return f"LocalChannel({self.transport.url!r})"


class LocalFileChannel(FileChannel):
    """The storage of a :class:`LocalTransport`'s backend (``backend.files``), used in-process as its user.

    Parts and parallel uploads buy nothing in one process: a file is written as one stream.
    """

    def __init__(self, transport: LocalTransport) -> None:
        self.transport = transport

    def _files(self) -> Any:
        files = getattr(self.transport.backend, "files", None)
        if files is None:
            raise FileTransferError(f"{self.transport.url} keeps no files: give it a storage folder "
                                    "(FTRACK_LIKE_STORAGE, or ftrack-like serve --storage)", code="no_storage")  # fmt: skip
        return files

    def upload(self, component_id: str, name: str, source: Source, size: int | None = None, *,
               part_size: int | None = None, parallel: int = 4, progress: ProgressArgument = None) -> None:  # fmt: skip
        total = size_of(source, size)
        shown = Progress(progress, total, name)
        opened = isinstance(source, (str, os.PathLike))
        stream: IO[bytes] = open(source, "rb") if isinstance(source, (str, os.PathLike)) else source  # noqa: SIM115

        def chunks() -> Iterator[bytes]:
            left = total
            while left > 0:
                chunk = stream.read(min(CHUNK, left))
                if not chunk:
                    raise FileTransferError(f"{name} ended {left} bytes before the {total} it should hold")
                left -= len(chunk)
                shown.advance(len(chunk))
                yield chunk

        try:
            with _translated(f"storing the file of component {component_id}"):
                self._files().put(self.transport.user, component_id, chunks())
        finally:
            shown.close()
            if opened:
                stream.close()

    def download(self, component_id: str, destination: IO[bytes], *, start: int = 0,
                 progress: ProgressArgument = None) -> int:  # fmt: skip
        if start < 0:
            raise ValueError(f"start must be 0 or more, not {start}")
        written = 0
        with _translated(f"reading the file of component {component_id}"):
            total, chunks = self._read(component_id, start)
            shown = Progress(progress, total - start, component_id)
            try:
                for chunk in chunks:
                    destination.write(chunk)
                    written += len(chunk)
                    shown.advance(len(chunk))
            finally:
                shown.close()
        return written

    def open(self, component_id: str) -> IO[bytes]:
        with _translated(f"reading the file of component {component_id}"):
            _, chunks = self._read(component_id, 0)
        return io.BufferedReader(_ChunkStream(chunks), buffer_size=CHUNK)

    def url(self, component_id: str, expires: int = 3600) -> str:
        """The stored file's ``file://`` URL (a folder store's), or the store's presigned URL (S3's)."""
        files = self._files()
        with _translated(f"finding the file of component {component_id}"):
            path = files.path(component_id)
            if path is not None:
                return pathlib.Path(path).resolve().as_uri()
            stored, _ = files.find(self.transport.user, component_id)
            presigned = files.store.download_url(stored.id, stored.filename, expires)
        if presigned is None:
            raise FileTransferError(f"The file of component {component_id} has no path on this machine",
                                    code="not_found")  # fmt: skip
        return presigned

    def remove(self, component_id: str) -> None:
        with _translated(f"removing the file of component {component_id}"):
            self._files().remove(self.transport.user, component_id)

    def _read(self, component_id: str, start: int) -> tuple[int, Iterator[bytes]]:
        """(the file's size, its chunks from byte ``start``), if the user may read it."""
        files = self._files()
        _, size = files.find(self.transport.user, component_id)
        return size, files.open(component_id, min(start, size), size)

    def __repr__(self) -> str:
        return f"LocalFileChannel({self.transport.url!r})"


class _translated:
    """Turns the backend's refusals (not found, not allowed, storage down) into FileTransferError."""

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _: object) -> None:
        if error is None or isinstance(error, FileTransferError) or not isinstance(error, (Error, OSError)):
            return
        code = getattr(error, "code", None)
        if not isinstance(code, str):
            code = "not_found" if isinstance(error, LookupError) else None  # the store's NotStored
        raise FileTransferError(f"{self.doing}: {error}", code=code,
                                exception=type(error).__name__) from error  # fmt: skip


class _ChunkStream(io.RawIOBase):
    """An iterator of byte chunks as a raw binary stream (for ``io.BufferedReader``)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            try:
                self._left = next(self._chunks)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._left))
        buffer[:count] = self._left[:count]
        self._left = self._left[count:]
        return count

    def close(self) -> None:
        closing = getattr(self._chunks, "close", None)
        if closing is not None:
            closing()
        super().close()


class _LocalStream(Stream):
    """The log read in this thread: what matches, then a wait on the broker (which polls other processes' commits)."""

    def __init__(self, backend: Backend, after: int, subscriptions: list[tuple[Any, dict[str, Any]]], principal: Any,
                 heartbeat: float) -> None:  # fmt: skip
        self.backend, self.position, self.subscriptions = backend, after, subscriptions
        self.principal, self.heartbeat = principal, heartbeat
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        events, broker = self.backend.events, self.backend.broker
        yield {"heartbeat": self.position}
        while not self._closed.is_set():
            try:
                read = events.read(self.position, 1000, self.principal)
            except Exception as error:  # the database went away: the hub reconnects
                raise EventHubConnectionError(f"Reading the event log failed: {error}") from error
            for stored in read:
                wire = stored.to_wire()
                if wanted(wire, self.subscriptions):
                    yield wire
                self.position = stored.seq
                if self._closed.is_set():
                    return
            if len(read) == 1000:
                continue
            if broker.wait_blocking(self.position, self.heartbeat) <= self.position:
                yield {"heartbeat": self.position}

    def close(self) -> None:
        self._closed.set()
