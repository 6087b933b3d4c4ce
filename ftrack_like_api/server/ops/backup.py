"""``ftrack-like backup``: a consistent snapshot of a running studio — its database, its files, its event log.

What a backup folder holds::

    manifest.json         what made it and when, the database's kind and revision, the event
                          log's last sequence number, per table its columns, rows and SHA-256,
                          per file its size and SHA-256
    tables/<table>.jsonl.gz   one JSON array per row, in primary-key order (first line: the columns)
    files/<key>           the server location's files, by component id

The rows are read in one transaction that sees one moment of the database while the
servers go on writing: on SQLite a read transaction (WAL keeps its snapshot), on
PostgreSQL ``REPEATABLE READ, READ ONLY``. So the event log, the components and their
locations agree with each other, whatever was committed meanwhile. The files are copied
after: a stored file never changes once its component exists (an upload is a new
component), so each file the snapshot names is the one it named; one removed in between
(its component deleted since) is listed in the manifest as missing.

The format is the same for SQLite and PostgreSQL (values as JSON, datetimes as
``{"$dt": "…"}``), so :func:`~.restore.restore` builds either kind of database from
either. ``pg_dump`` remains the tool for PostgreSQL's point-in-time recovery (WAL
archiving, see the deployment page); this is the backup that moves between kinds.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import json
import logging
import os
import pathlib
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from ...exceptions import Error
from ...symbol import SERVER_LOCATION_ID
from ...version import __version__

__all__ = ["BackupError", "FORMAT", "backup", "decode", "encode", "read_manifest", "rows_of", "studio_tables"]

log = logging.getLogger(__name__)

#: The backup folder's format version (``manifest.json``'s ``format``).
FORMAT = 1
#: Rows fetched from the database at a time.
BATCH = 5000


class BackupError(Error):
    """A backup that cannot be made or read: the reason, and where."""


def studio_tables(metadata: sa.MetaData) -> list[sa.Table]:
    """The tables a backup holds: every one the code defines, parents before children where it can."""
    import warnings

    with warnings.catch_warnings():  # references go round in circles (as they may): any order is restored alike
        warnings.filterwarnings("ignore", "Cannot correctly sort tables", sa.exc.SAWarning)
        return list(metadata.sorted_tables)


def encode(value: Any) -> Any:
    """A column's value as JSON: datetimes and dates tagged, bytes in base64, the rest as they are."""
    if isinstance(value, datetime.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$d": value.isoformat()}
    if isinstance(value, (bytes, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, float) and value != value:  # NaN: not JSON
        return {"$f": "nan"}
    return value


def decode(value: Any) -> Any:
    """:func:`encode`'s value back."""
    if isinstance(value, dict):
        if "$dt" in value:
            return datetime.datetime.fromisoformat(value["$dt"])
        if "$d" in value:
            return datetime.date.fromisoformat(value["$d"])
        if "$b" in value:
            return base64.b64decode(value["$b"])
        if "$f" in value:
            return float(value["$f"])
    return value


def backup(engine: sa.Engine, metadata: sa.MetaData, destination: pathlib.Path, store: Any | None,
           revision: str | None, progress: Any = None) -> dict[str, Any]:  # fmt: skip
    """Write a backup of the database behind ``engine`` (its tables: ``metadata``) and of ``store`` to ``destination``.

    ``destination`` must be new or empty. ``store`` is the server location's
    :class:`~ftrack_like_api.server.files.store.FileStore` (None: the studio keeps no files).
    ``progress(what)``, when given, is told each step. The manifest, as written.
    """
    destination = pathlib.Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"{destination} is not an empty folder: a backup goes to a new one")
    (destination / "tables").mkdir(parents=True, exist_ok=True)
    tell = progress or (lambda what: None)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "made_by": f"ftrack_like_api {__version__}",
        "started": _now(),
        "database": {"kind": engine.dialect.name, "revision": revision},
        "tables": {},
    }
    keys: list[str] = []
    with _snapshot(engine) as connection:
        for table in studio_tables(metadata):
            if not sa.inspect(connection).has_table(table.name):
                continue
            tell(f"table {table.name}")
            manifest["tables"][table.name] = _dump_table(connection, table, destination / "tables")
        if "event_log" in manifest["tables"]:
            last = connection.execute(sa.select(sa.func.max(metadata.tables["event_log"].c.seq))).scalar()
            manifest["events"] = {"last_seq": last or 0}
        if "component_location" in metadata.tables and manifest["tables"].get("component_location"):
            located = metadata.tables["component_location"]
            keys = sorted(connection.execute(sa.select(located.c.component_id).distinct()
                                             .where(located.c.location_id == SERVER_LOCATION_ID)).scalars())  # fmt: skip
        meta = metadata.tables.get("ftrack_like_meta")
        if meta is not None:
            known = dict(connection.execute(sa.select(meta.c.key, meta.c.value)).all())
            manifest["database"]["schema_hash"] = known.get("schema_hash")
    manifest["snapshot"] = _now()
    manifest["files"] = _copy_files(store, keys, destination / "files", tell)
    manifest["finished"] = _now()
    _write_json(destination / "manifest.json", manifest)
    return manifest


def read_manifest(source: pathlib.Path) -> dict[str, Any]:
    """A backup's manifest, checked for a format this version reads."""
    path = pathlib.Path(source) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} holds no backup (no manifest.json)") from None
    except ValueError as error:
        raise BackupError(f"{path} is not a backup's manifest: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: a backup of format {manifest.get('format') if isinstance(manifest, dict) else '?'}, "
                          f"this version reads format {FORMAT}")  # fmt: skip
    return manifest


def rows_of(source: pathlib.Path, name: str, entry: dict[str, Any]) -> Iterator[tuple[list[str], list[Any]]]:
    """The rows of table ``name`` in a backup: (columns, values) each, checked against the manifest's checksum."""
    path = pathlib.Path(source) / "tables" / entry["file"]
    digest = hashlib.sha256()
    count = 0
    with gzip.open(path, "rb") as packed:
        header = packed.readline()
        digest.update(header)
        columns = json.loads(header)
        for line in packed:
            digest.update(line)
            count += 1
            yield columns, [decode(value) for value in json.loads(line)]
    if digest.hexdigest() != entry["sha256"] or count != entry["rows"]:
        raise BackupError(f"{path} does not hold what the manifest says ({count} rows, checksum "
                          f"{'matches' if digest.hexdigest() == entry['sha256'] else 'differs'}): the backup is damaged")  # fmt: skip


# --- inside -----------------------------------------------------------------------------------------


class _snapshot:
    """A connection in a transaction that sees one moment of the database, and writes nothing."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def __enter__(self) -> sa.Connection:
        if self.engine.dialect.name == "postgresql":
            self.connection = self.engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                                      postgresql_readonly=True)  # fmt: skip
        else:
            self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        if self.engine.dialect.name == "sqlite":  # the snapshot starts with the first read
            self.connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
        return self.connection

    def __exit__(self, *exc_info: object) -> None:
        self.transaction.rollback()
        self.connection.close()


def _dump_table(connection: sa.Connection, table: sa.Table, folder: pathlib.Path) -> dict[str, Any]:
    columns = [column.name for column in table.columns]
    order = list(table.primary_key.columns) or list(table.columns)
    digest = hashlib.sha256()
    rows = 0
    name = f"{table.name}.jsonl.gz"
    with gzip.open(folder / name, "wb", compresslevel=3) as out:
        header = (json.dumps(columns) + "\n").encode()
        out.write(header)
        digest.update(header)
        result = connection.execution_options(yield_per=BATCH).execute(sa.select(*table.columns).order_by(*order))
        for partition in result.partitions():
            lines = b"".join((json.dumps([encode(v) for v in row], separators=(",", ":")) + "\n").encode()
                             for row in partition)  # fmt: skip
            out.write(lines)
            digest.update(lines)
            rows += len(partition)
    return {"file": name, "columns": columns, "rows": rows, "sha256": digest.hexdigest()}


def _copy_files(store: Any | None, keys: Iterable[str], folder: pathlib.Path, tell: Any) -> dict[str, Any]:
    from ..files.store import NotStored, StoreError

    copied: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    keys = list(keys)
    if keys and store is None:
        raise BackupError(f"The database names {len(keys)} file(s) in the server location, and no storage was given "
                          "(--storage DIR or s3://…, as the server was started with)")  # fmt: skip
    if keys:
        folder.mkdir(parents=True, exist_ok=True)
        tell(f"{len(keys)} file(s)")
    for key in keys:
        digest, size = hashlib.sha256(), 0
        target = folder / key
        try:
            with open(target, "wb") as out:
                for chunk in store.open(key):  # type: ignore[union-attr]
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except NotStored:
            target.unlink(missing_ok=True)
            missing.append(key)  # removed since the snapshot (its component deleted) or never stored
            continue
        except StoreError as error:
            raise BackupError(f"Cannot read the file of component {key} from the storage: {error}") from error
        copied[key] = {"size": size, "sha256": digest.hexdigest()}
    if missing:
        log.warning("%d file(s) named by the database were not in the storage: %s", len(missing), ", ".join(missing[:5]))
    return {"count": len(copied), "bytes": sum(f["size"] for f in copied.values()), "stored": copied,
            "missing": missing}  # fmt: skip


def _write_json(path: pathlib.Path, value: Any) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value, indent=1, sort_keys=True))
    os.replace(temporary, path)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
