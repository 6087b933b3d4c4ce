"""``ftrack-like restore``: a working studio built from a backup folder (:mod:`.backup`), on SQLite or PostgreSQL.

The database is built new at this version's head (as ``init`` does) and its rows are then
replaced by the backup's, in one transaction: every row or none. References are checked
once all rows are in (SQLite: ``PRAGMA foreign_key_check``; PostgreSQL: the references are
dropped for the load and added again, which checks every row), and PostgreSQL's sequences
(the event log's ``seq``) go on after the highest restored number, so listeners' cursors
still mean what they meant. The files are then written to the storage, each checked
against its SHA-256 in the manifest.

A backup made at an older revision is restored when every revision since only adds
(columns it lacks are left empty, as those revisions left them); one made by a newer
version, or across a revision that is not additive, is refused with what to do. A
database that holds a studio already is not overwritten unless asked (``replace``).
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import sqlalchemy as sa

from .backup import BATCH, BackupError, read_manifest, rows_of, studio_tables

__all__ = ["restore"]

log = logging.getLogger(__name__)


def restore(source: pathlib.Path, url: str, storage: Any | None = None, replace: bool = False,
            progress: Any = None) -> dict[str, Any]:  # fmt: skip
    """Build the studio database at ``url`` (and its files in ``storage``: a folder, ``s3://…`` or a store) from ``source``.

    Without ``storage`` the files go where ``serve`` would keep them (``$FTRACK_LIKE_STORAGE``,
    else a folder beside a SQLite file).

    What was restored: rows per table and files. Raises :class:`~.backup.BackupError`
    saying why when it cannot, having changed nothing of the database.
    """
    from ..engine.backend import Backend
    from ..engine.dialects import check_folder, dialect_for, make_folder
    from ..engine.upgrades import Upgrades

    source = pathlib.Path(source)
    manifest = read_manifest(source)
    tell = progress or (lambda what: None)
    _check_revision(Upgrades(), manifest["database"].get("revision"))
    make_folder(url)
    check_folder(url, dialect_for(url))
    if _holds_a_studio(url) and not replace:
        raise BackupError(f"{sa.engine.make_url(url).render_as_string(hide_password=True)} holds a studio already: "
                          "restore into a new database, or say --replace to overwrite it")  # fmt: skip
    files = manifest.get("files") or {}
    with Backend.from_url(url) as backend:
        if storage is not None:
            backend.files.configure(storage)
        store = _store(backend)
        if files.get("stored") and store is None:
            raise BackupError(f"The backup holds {len(files['stored'])} file(s): say where they go "
                              "(--storage DIR or s3://…)")  # fmt: skip
        tables = {table.name: table for table in studio_tables(backend.storage.metadata)}
        unknown = sorted(set(manifest["tables"]) - set(tables))
        if unknown:
            raise BackupError(f"The backup has tables this version does not know ({', '.join(unknown)}): "
                              "restore it with the version that made it")  # fmt: skip
        with backend.engine.connect().execution_options(ftrack_writes=True) as connection:
            counts = _load(connection, tables, manifest, source, tell)
        backend.engine.dispose()
    restored_files = _restore_files(source, files.get("stored") or {}, store, tell)
    return {"tables": counts, "files": restored_files, "revision": manifest["database"].get("revision")}


def _check_revision(upgrades: Any, revision: str | None) -> None:
    if revision is None:
        raise BackupError("The backup does not say its database's revision: it was not made by `ftrack-like backup`")
    known = {script.revision: script for script in upgrades.script.walk_revisions()}
    if revision not in known:
        raise BackupError(f"The backup is at revision {revision}, which this version does not know: restore it with "
                          "the version that made it (or a newer one)")  # fmt: skip
    held = [script.revision for script in upgrades.script.iterate_revisions(upgrades.head, revision)
            if script.revision != revision and not getattr(script.module, "additive", False)]  # fmt: skip
    if held:
        raise BackupError(f"Revisions since the backup's {revision} are not additive ({', '.join(held)}): restore it "
                          "with the version that made it, then run `ftrack-like upgrade`")  # fmt: skip


def _holds_a_studio(url: str) -> bool:
    from ..engine.dialects import engine_url

    engine = sa.create_engine(engine_url(url))
    try:
        with engine.connect() as connection:
            return sa.inspect(connection).has_table("ftrack_like_meta")
    except sa.exc.DBAPIError:
        return False  # it does not open yet: Backend.from_url says why
    finally:
        engine.dispose()


def _load(connection: sa.Connection, tables: dict[str, sa.Table], manifest: dict[str, Any], source: pathlib.Path,
          tell: Any) -> dict[str, int]:  # fmt: skip
    postgresql = connection.dialect.name == "postgresql"
    raw = connection.connection.driver_connection if not postgresql else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys=OFF")  # it counts only outside a transaction
    counts: dict[str, int] = {}
    try:
        with connection.begin():
            references = _drop_references(connection, tables) if postgresql else []
            for table in reversed(list(tables.values())):
                connection.execute(table.delete())  # the new database's seed goes: the backup's rows replace it
            for name, table in tables.items():
                entry = manifest["tables"].get(name)
                if entry is None:
                    continue  # a table added since the backup: empty, as the revision that added it left it
                tell(f"table {name}")
                counts[name] = _insert(connection, table, rows_of(source, name, entry))
            if postgresql:
                for create in references:
                    connection.execute(create)  # checks every row's reference
                _continue_sequences(connection, tables)
            else:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    shown = ", ".join(f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in broken[:5])
                    raise BackupError(f"The backup's rows do not hold together ({shown}): it is damaged")
    except sa.exc.IntegrityError as error:
        raise BackupError(f"The backup's rows do not hold together: {' '.join(str(error.orig).split())}") from None
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")
    return counts


def _insert(connection: sa.Connection, table: sa.Table, rows: Any) -> int:
    count, batch, columns = 0, [], None
    for names, values in rows:
        if columns is None:
            missing = [name for name in names if name not in table.c]
            if missing:
                raise BackupError(f"The backup's table {table.name} has columns this version does not know "
                                  f"({', '.join(missing)}): restore it with the version that made it")  # fmt: skip
            columns = names
        batch.append(dict(zip(columns, values)))
        if len(batch) >= BATCH:
            connection.execute(table.insert(), batch)
            count, batch = count + len(batch), []
    if batch:
        connection.execute(table.insert(), batch)
        count += len(batch)
    return count


def _drop_references(connection: sa.Connection, tables: dict[str, sa.Table]) -> list[Any]:
    """Drop every foreign key of the studio's tables (PostgreSQL); the statements that add them again."""
    inspector = sa.inspect(connection)
    again = []
    for name in tables:
        for reference in inspector.get_foreign_keys(name):
            constraint = str(reference["name"])
            definition = connection.exec_driver_sql(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %(name)s "
                "AND conrelid = to_regclass(%(table)s)",
                {"name": constraint, "table": _quoted(name)},
            ).scalar_one()
            connection.exec_driver_sql(f"ALTER TABLE {_quoted(name)} DROP CONSTRAINT {_quoted(constraint)}")
            again.append(sa.text(f"ALTER TABLE {_quoted(name)} ADD CONSTRAINT {_quoted(constraint)} {definition}"))
    return again


def _continue_sequences(connection: sa.Connection, tables: dict[str, sa.Table]) -> None:
    for name, table in tables.items():
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer) or column.autoincrement is False:
                continue
            sequence = connection.exec_driver_sql("SELECT pg_get_serial_sequence(%(table)s, %(column)s)",
                                                  {"table": _quoted(name), "column": column.name}).scalar()  # fmt: skip
            if sequence:
                connection.exec_driver_sql(
                    f"SELECT setval(%(sequence)s, COALESCE((SELECT max({_quoted(column.name)}) FROM {_quoted(name)}), 0) + 1, false)",
                    {"sequence": sequence},
                )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _store(backend: Any) -> Any:
    from ..files import NoStorage

    try:
        return backend.files.store
    except NoStorage:
        return None


def _restore_files(source: pathlib.Path, stored: dict[str, dict[str, Any]], store: Any, tell: Any) -> int:
    if not stored:
        return 0
    tell(f"{len(stored)} file(s)")
    for key, entry in stored.items():
        path = source / "files" / key
        if not path.is_file():
            raise BackupError(f"The backup's file {path} is missing: the backup is damaged")
        store.write_file(key, _chunks(path), entry["size"], sha256_hex=entry["sha256"])
    return len(stored)


def _chunks(path: pathlib.Path, size: int = 1024 * 1024) -> Any:
    with open(path, "rb") as source:
        while chunk := source.read(size):
            yield chunk

