"""The uploads the server handed out URLs for: made, found again to resume, completed, given up.

Each is a row of ``file_upload``. An upload of a component that is not finished, asked for
again with the same file size and part size, is the same upload: its parts already stored
are kept and the client sends only the others. One left unfinished longer than the
expiry (``--upload-expiry``, default 24 h) is abandoned: :meth:`Uploads.abandoned` lists
them for the cleanup, which forgets their parts and rows.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any

import sqlalchemy as sa

from .store import UploadTarget

__all__ = ["EXPIRY", "Upload", "Uploads", "utcnow"]

#: How long an unfinished upload is kept, by default.
EXPIRY = datetime.timedelta(hours=24)


def utcnow() -> datetime.datetime:
    """Now, as the tables keep times: naive UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Upload:
    """One upload's row: the store's view of it (:attr:`target`) and who made it when."""

    target: UploadTarget
    user_id: str | None
    file_name: str | None
    created_at: datetime.datetime
    completed_at: datetime.datetime | None

    @property
    def id(self) -> str:
        return self.target.id


class Uploads:
    """The ``file_upload`` table's rows, on a connection the caller gives (a batch's, or one of its own)."""

    def __init__(self, table: sa.Table, expiry: datetime.timedelta = EXPIRY) -> None:
        self.table = table
        self.expiry = expiry

    def start(self, connection: sa.Connection, component_id: str, user_id: str | None, file_name: str | None,
              file_size: int, part_size: int, parts: int, checksum: str | None) -> tuple[Upload, bool]:  # fmt: skip
        """The unfinished upload of this file to resume, or a new one; and whether it is resumed."""
        table = self.table
        found = connection.execute(
            sa.select(table).where(
                table.c.component_id == component_id, table.c.completed_at.is_(None),
                table.c.file_size == file_size, table.c.part_size == part_size, table.c.parts == parts,
                table.c.created_at > utcnow() - self.expiry,
            ).order_by(table.c.created_at.desc()).limit(1)
        ).first()  # fmt: skip
        if found is not None and (found.checksum is None or checksum is None or found.checksum == checksum):
            return _upload(found), True
        row = {"id": str(uuid.uuid4()), "component_id": component_id, "user_id": user_id, "file_name": file_name,
               "file_size": file_size, "part_size": part_size, "parts": parts, "checksum": checksum,
               "store_ref": None, "created_at": utcnow(), "completed_at": None}  # fmt: skip
        connection.execute(table.insert().values(**row))
        return _upload(row), False

    def set_store_ref(self, connection: sa.Connection, upload: Upload, store_ref: str) -> Upload:
        """Keep what the store named the upload (an S3 multipart upload id)."""
        connection.execute(self.table.update().where(self.table.c.id == upload.id).values(store_ref=store_ref))
        return dataclasses.replace(upload, target=dataclasses.replace(upload.target, store_ref=store_ref))

    def get(self, connection: sa.Connection, upload_id: str) -> Upload | None:
        row = connection.execute(sa.select(self.table).where(self.table.c.id == upload_id)).first()
        return None if row is None else _upload(row)

    def complete(self, connection: sa.Connection, upload_id: str) -> None:
        connection.execute(self.table.update().where(self.table.c.id == upload_id).values(completed_at=utcnow()))

    def abandoned(self, connection: sa.Connection, now: datetime.datetime | None = None) -> list[Upload]:
        """The unfinished uploads older than the expiry."""
        cutoff = (now or utcnow()) - self.expiry
        table = self.table
        rows = connection.execute(sa.select(table).where(table.c.completed_at.is_(None), table.c.created_at <= cutoff))
        return [_upload(row) for row in rows]

    def known(self, connection: sa.Connection, upload_ids: list[str]) -> set[str]:
        """Which of ``upload_ids`` have a row (the others' parts belong to nothing)."""
        if not upload_ids:
            return set()
        rows = connection.execute(sa.select(self.table.c.id).where(self.table.c.id.in_(upload_ids)))
        return {row.id for row in rows}

    def forget(self, connection: sa.Connection, upload_ids: list[str]) -> None:
        if upload_ids:
            connection.execute(self.table.delete().where(self.table.c.id.in_(upload_ids)))

    def finished_before(self, connection: sa.Connection, cutoff: datetime.datetime) -> list[str]:
        """The ids of uploads completed before ``cutoff`` (their rows are no longer needed)."""
        table = self.table
        rows = connection.execute(sa.select(table.c.id).where(table.c.completed_at.is_not(None), table.c.completed_at <= cutoff))
        return [row.id for row in rows]


def _upload(row: Any) -> Upload:
    values = row._mapping if hasattr(row, "_mapping") else row
    target = UploadTarget(values["id"], values["component_id"], int(values["file_size"]), int(values["part_size"]),
                          int(values["parts"]), values["checksum"], values["store_ref"])  # fmt: skip
    return Upload(target, values["user_id"], values["file_name"], values["created_at"], values["completed_at"])
