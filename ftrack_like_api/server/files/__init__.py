"""The server location's files: where they are kept, how they are uploaded, served and removed.

- ``store.py`` the :class:`~.store.FileStore` interface and :class:`~.store.FolderStore`
- ``tables.py`` the ``file_upload`` table; ``uploads.py`` its rows (resume, cleanup)
- ``signing.py`` the signed, expiring tokens of upload URLs and download links
- ``access.py`` who may read and write a component's file (the project rules)
- ``actions.py`` the engine actions (``get_upload_metadata`` …)
- ``media/`` encoding media for review (``encode_media``): ffmpeg, in jobs run in the background

:class:`Files` is the engine's face of them: ``backend.files``. The routes
(``protocols/ftrack/files.py``) and the in-process transport call its methods; they block
(the routes run them in threads). Where the files are kept is decided on first use:
:meth:`Files.configure`, else ``FTRACK_LIKE_STORAGE``, else for SQLite a folder beside the
database file (``studio.db`` → ``studio.files/``); PostgreSQL has no default — the file
actions then answer an error naming ``--storage``.
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

import sqlalchemy as sa

from ...exceptions import ValidationError
from .access import Access, Stored, filename_of
from .signing import Signer, TokenRefused
from .store import FileStore, FolderStore, NotStored, Part, StoreError, TooLarge, UploadTarget, check_key
from .uploads import EXPIRY, Uploads, utcnow

if TYPE_CHECKING:
    from ..auth.permissions import Principal
    from ..engine.backend import Backend
    from ..engine.batch import BatchContext

__all__ = ["Files", "NoStorage", "STORAGE_VARIABLE", "Ticket", "open_store"]

log = logging.getLogger(__name__)

#: Where the files are kept when nothing else says.
STORAGE_VARIABLE = "FTRACK_LIKE_STORAGE"
#: How long an upload URL works.
LINK_LIFETIME = 3600
#: ftrack's server location: deleting a component's last place there removes its stored file.
SERVER_LOCATION_ID = "3a372bde-05bc-11e4-8908-20c9d081909b"
_AFTER_COMMIT = ("files", "after_commit")


class NoStorage(ValidationError):
    """This server keeps no files: it was started without a storage (PostgreSQL has no default)."""

    exception = "ServerError"


def open_store(where: str | os.PathLike[str]) -> FileStore:
    """The store ``where`` names: ``s3://bucket/prefix`` (the ``s3`` extra) or a folder."""
    text = os.fspath(where)
    if text.startswith("s3://"):
        from .s3 import S3Store  # type: ignore[import-not-found,unused-ignore]

        bucket, _, prefix = text[len("s3://") :].partition("/")
        return S3Store(bucket, prefix)  # type: ignore[no-any-return,unused-ignore]
    return FolderStore(text)


class Ticket:
    """What an upload token allows, once checked: which file or part, how many bytes at most."""

    def __init__(self, claims: dict[str, Any], limit: int, upload: UploadTarget | None) -> None:
        self.component_id: str = claims["c"]
        self.user_id: str | None = claims.get("user")
        self.part_number: int = int(claims.get("n") or 1)
        self.limit = limit
        #: The upload the part belongs to (None: the component's whole file in one go).
        self.upload = upload


class Files:
    """The server location's files for one backend: its engine actions and what the routes call."""

    def __init__(self, backend: Backend) -> None:
        from . import actions
        from .media import Media

        self.backend = backend
        #: The most bytes one file may have (None: no limit).
        self.max_upload: int | None = None
        self.link_lifetime = LINK_LIFETIME
        self.signer = Signer(backend.engine, backend.storage.meta)
        self.uploads = Uploads(backend.storage.files["file_upload"])
        self.access = Access(backend)
        self._store: FileStore | None = None
        self._configured = False
        self._lock = threading.Lock()
        #: Media encoding (``encode_media``) and the pool of threads that runs its jobs.
        self.media = Media(self)
        actions.register(self)
        backend.after_commit(self._committed)

    def configure(self, storage: str | os.PathLike[str] | FileStore | None = None, max_upload: int | None = None,
                  upload_expiry: datetime.timedelta = EXPIRY) -> None:  # fmt: skip
        """Keep files in ``storage`` (a store, a folder, ``s3://…``; None: the default), at most ``max_upload`` bytes each."""
        with self._lock:
            self._store = storage if isinstance(storage, FileStore) or storage is None else open_store(storage)
            self._configured = storage is not None
            self.max_upload = max_upload
            self.uploads.expiry = upload_expiry

    @property
    def store(self) -> FileStore:
        """Where the files are kept; :class:`NoStorage` when nowhere."""
        if not self._configured:
            with self._lock:
                if not self._configured:
                    self._store, self._configured = self._default(), True
        if self._store is None:
            raise NoStorage("This server keeps no files: start it with --storage DIR (or set FTRACK_LIKE_STORAGE); "
                            "a server on PostgreSQL has no default folder", "no_storage")  # fmt: skip
        return self._store

    def _default(self) -> FileStore | None:
        where = os.environ.get(STORAGE_VARIABLE)
        if where:
            return open_store(where)
        url = self.backend.engine.url
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            database = Path(url.database).absolute()
            return FolderStore(database.with_suffix(".files") if database.suffix else Path(f"{database}.files"))
        return None

    def new_id(self) -> str:
        return str(uuid.uuid4())

    # --- after a batch commits ----------------------------------------------------------------

    def after_commit(self, batch: BatchContext, work: Callable[[], None]) -> None:
        """Do ``work`` once ``batch`` has committed (never if it does not)."""
        batch.cache.setdefault(_AFTER_COMMIT, []).append(work)

    def finish(self, upload: UploadTarget) -> None:
        """Mark ``upload`` complete and forget its parts (its file is whole: after the batch that made it)."""
        with self.backend.engine.connect().execution_options(ftrack_writes=True) as connection, connection.begin():
            self.uploads.complete(connection, upload.id)
        self.store.discard(upload)

    def _committed(self, batch: BatchContext) -> None:
        for work in batch.cache.get(_AFTER_COMMIT, ()):
            try:
                work()
            except Exception:  # the batch stands; what is left over, the cleanup finds
                log.exception("finishing after a commit failed")
        gone: set[str] = set()
        places: set[str] = set()
        for action, entity_type, keys, before, _ in batch.changed:
            if action != "remove":
                continue
            family = {t.name for t in self.backend.schema.ancestry(entity_type.name)}
            if "Component" in family:
                gone.add(str(keys[0]))
            elif "ComponentLocation" in family and before and before.get("location_id") == SERVER_LOCATION_ID:
                places.add(str(before.get("component_id")))
        if places - gone:
            table = self.backend.storage.tables["component_location"]
            with self.backend.engine.connect() as connection:
                kept = set(connection.execute(sa.select(table.c.component_id).where(
                    table.c.component_id.in_(sorted(places - gone)), table.c.location_id == SERVER_LOCATION_ID)).scalars())  # fmt: skip
            gone |= places - kept
        if gone:
            self._remove_stored(gone)

    def _remove_stored(self, component_ids: Iterable[str]) -> None:
        try:
            store = self.store
        except NoStorage:
            return
        for component_id in component_ids:
            try:
                if store.remove(check_key(component_id)):
                    log.info("removed the stored file of deleted component %s", component_id)
            except StoreError as error:
                log.warning("could not remove the stored file of %s: %s", component_id, error)

    # --- what the routes call ------------------------------------------------------------------

    def _principal(self, connection: sa.Connection, username: str, user_id: str | None) -> Principal:
        principal = self.access.principal(connection, username, user_id)
        if principal.id is None:
            raise ValidationError(f"No user {username!r}", "unknown_user")
        return principal

    def admit(self, token: str, length: int | None) -> Ticket:
        """What an upload ``token`` allows, before the body is read; TooLarge when ``length`` is over it."""
        claims = self.signer.verify(token, "upload")
        limit = int(claims["s"])
        if self.max_upload is not None:
            limit = min(limit, self.max_upload)
        if length is not None and length > limit:
            raise TooLarge(f"The body is {length} bytes: this upload takes at most {limit}")
        target = None
        if claims.get("u") is not None:
            with self.backend.engine.connect() as connection:
                upload = self.uploads.get(connection, str(claims["u"]))
            if upload is None or upload.completed_at is not None:
                raise TokenRefused("That upload is finished or abandoned: ask for a new one")
            target = upload.target
        return Ticket(claims, limit, target)

    def receive(self, token: str, chunks: Iterable[bytes], headers: Mapping[str, str]) -> Part:
        """Keep the body of a PUT to an upload URL: ``token`` is its query's, ``headers`` its (lower-case) headers."""
        declared = headers.get("content-length", "")
        ticket = self.admit(token, int(declared) if declared.isdigit() else None)
        return self.write(ticket, chunks, headers.get("content-md5"), headers.get("x-content-sha256"))

    def write(self, ticket: Ticket, chunks: Iterable[bytes], md5_b64: str | None = None,
              sha256_hex: str | None = None) -> Part:  # fmt: skip
        """Keep what an admitted upload sends: the component's file, or one part of an upload."""
        store = self.store
        if ticket.upload is None:
            return store.write_file(ticket.component_id, chunks, ticket.limit, md5_b64=md5_b64, sha256_hex=sha256_hex)
        return store.write_part(ticket.upload, ticket.part_number, chunks, ticket.limit, md5_b64=md5_b64, sha256_hex=sha256_hex)

    def find(self, user: str, component_id: str, user_id: str | None = None) -> tuple[Stored, int]:
        """The component ``user`` (a username; ``user_id`` when known) may read and its file's size.

        Not found (a ``not_found`` ValidationError) when they may not, :class:`NotStored` when it has no file.
        """
        component_id = check_key(component_id)
        with self.backend.engine.connect() as connection:
            stored = self.access.readable(connection, self._principal(connection, user, user_id), component_id)
        return stored, self._size(component_id)

    def download(self, user: str, component_id: str, start: int = 0, end: int | None = None,
                 user_id: str | None = None) -> Iterator[bytes]:  # fmt: skip
        """The bytes ``start`` to ``end`` (excluded) of a component's file that ``user`` may read, a chunk at a time."""
        self.find(user, component_id, user_id)
        return self.open(component_id, start, end)

    def find_signed(self, token: str) -> tuple[Stored, int]:
        """The component a download ``token`` names and its file's size."""
        component_id = check_key(self.signer.verify(token, "download")["c"])
        table = self.access.table
        with self.backend.engine.connect() as connection:
            row = connection.execute(sa.select(table.c.name, table.c.file_type).where(table.c.id == component_id)).first()
        if row is None:
            raise ValidationError(f"No Component with id {component_id}", "not_found")
        return Stored(component_id, filename_of(row.name, row.file_type)), self._size(component_id)

    def _size(self, component_id: str) -> int:
        size = self.store.size(component_id)
        if size is None:
            raise NotStored(f"No file is stored for component {component_id}")
        return size

    def open(self, component_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self.store.open(component_id, start, end)

    def download_url(self, stored: Stored) -> str | None:
        """A presigned URL of the store's (S3) to send the client to, or None: the server streams."""
        return self.store.download_url(stored.id, stored.filename, self.link_lifetime)

    def remove(self, user: str, component_id: str, user_id: str | None = None) -> bool:
        """Remove a component's stored file, if ``user`` may change the component; whether there was one."""
        component_id = check_key(component_id)
        with self.backend.engine.connect() as connection:
            self.access.writable(connection, self._principal(connection, user, user_id), component_id)
        return self.store.remove(component_id)

    def put(self, user: str, component_id: str, chunks: Iterable[bytes], user_id: str | None = None,
            md5_b64: str | None = None, sha256_hex: str | None = None) -> Part:  # fmt: skip
        """Keep a component's file as ``user`` (in-process: no token, the permissions checked here)."""
        component_id = check_key(component_id)
        with self.backend.engine.connect() as connection:
            self.access.writable(connection, self._principal(connection, user, user_id), component_id, new=True)
        limit = self.max_upload if self.max_upload is not None else 2**62
        return self.store.write_file(component_id, chunks, limit, md5_b64=md5_b64, sha256_hex=sha256_hex)

    def path(self, component_id: str) -> Path | None:
        """Where a folder store keeps a component's file (in-process ``get_url``); None for other stores."""
        return self.store.path(check_key(component_id))

    # --- cleanup ---------------------------------------------------------------------------------

    def clean_up(self, now: datetime.datetime | None = None) -> int:
        """Forget abandoned uploads and stray parts, and remove files no component owns; how many (see ``cleanup.py``)."""
        from .cleanup import clean_up

        return clean_up(self, now or utcnow())
