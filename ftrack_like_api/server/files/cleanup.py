"""What the cleanup removes: abandoned uploads, parts of no upload, and files no component owns.

- an upload left unfinished longer than the expiry (``--upload-expiry``): its row and parts;
- parts kept under an upload id the table does not know (a crash between the two);
- a stored file older than the expiry whose component does not exist: a component deleted
  with its version (the database's cascade, which no after-commit hook sees), or one whose
  file was uploaded and which was never committed.

Every worker runs it now and then (``settings.cleaning``); it is idempotent.
"""

from __future__ import annotations

import datetime
import itertools
import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import NoStorage
from .store import FolderStore

if TYPE_CHECKING:
    from . import Files

__all__ = ["clean_up"]

log = logging.getLogger(__name__)

#: Component ids looked up at a time.
BATCH = 500


def clean_up(files: Files, now: datetime.datetime) -> int:
    """Clean up as the module says, as of ``now`` (naive UTC); how many uploads and files went."""
    try:
        store = files.store
    except NoStorage:
        return 0
    engine, uploads = files.backend.engine, files.uploads
    with engine.connect().execution_options(ftrack_writes=True) as connection, connection.begin():
        abandoned = uploads.abandoned(connection, now)
        finished = uploads.finished_before(connection, now - uploads.expiry)
        uploads.forget(connection, [upload.id for upload in abandoned] + finished)
    for upload in abandoned:
        store.discard(upload.target)
    strays: list[str] = []
    if isinstance(store, FolderStore):
        listed = store.upload_ids()
        with engine.connect() as connection:
            known = uploads.known(connection, listed)
        strays = [upload_id for upload_id in listed if upload_id not in known]
        for upload_id in strays:
            store.discard_id(upload_id)
    ownerless = _sweep(files, (now - uploads.expiry).replace(tzinfo=datetime.timezone.utc).timestamp())
    if abandoned or strays or ownerless:
        log.info("cleaned up %d abandoned upload(s) and %d file(s) of no component", len(abandoned) + len(strays), ownerless)
    return len(abandoned) + len(strays) + ownerless


def _sweep(files: Files, older_than: float) -> int:
    """Remove the stored files older than ``older_than`` whose component does not exist; how many."""
    keys = files.store.keys(older_than)
    if keys is None:
        return 0
    table = files.access.table
    removed = 0
    while True:
        batch = list(itertools.islice(keys, BATCH))
        if not batch:
            return removed
        with files.backend.engine.connect() as connection:
            existing = set(connection.execute(sa.select(table.c.id).where(table.c.id.in_(batch))).scalars())
        for key in batch:
            if key not in existing and files.store.remove(key):
                log.info("removed the stored file of %s: no such component", key)
                removed += 1
