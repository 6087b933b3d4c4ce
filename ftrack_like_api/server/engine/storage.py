"""Tables and indexes from the schema, the engine, and upgrades of an older database.

Each table holds every type stored in it (a polymorphic family such as Context,
Project and the TypedContext types shares ``context``); its columns are the union of
their stored scalar attributes, named as the attributes are. Every reference gets a
foreign key and an index; classifier columns and attributes marked ``index`` get an
index; ``unique`` ones a unique constraint.

The database records the schema version and hash it was built with. A new database is
built here; an older one is brought up to date by the revisions of :mod:`.upgrades`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Iterator

import sqlalchemy as sa

from ...exceptions import SchemaError
from ...schema import EntityType, Schema
from ..events.tables import define_tables as define_event_tables
from ..files.tables import define_tables as define_file_tables
from ..protocols.aquarium.tables import define_tables as define_aquarium_tables
from ..protocols.shotgrid.tables import define_tables as define_shotgrid_tables
from .dialects import Dialect, engine_url
from .folding import folded_indexes, folds

__all__ = ["SCHEMA_VERSION", "Storage", "insert_rows", "one_statement", "writing"]

log = logging.getLogger(__name__)

#: Raise when the storage layout changes in a way an upgrade must know about.
SCHEMA_VERSION = 1

COLUMN_TYPES: dict[str, Any] = {
    "string": sa.Text,
    "text": sa.Text,
    "integer": sa.BigInteger,
    "number": sa.Float,
    "boolean": sa.Boolean,
    "datetime": sa.DateTime,
    "date": sa.Date,
    "json": sa.Text,
    "variable": sa.Text,
    "object": sa.Text,
}


class Storage:
    """The tables of a schema on one database."""

    def __init__(self, schema: Schema, dialect: Dialect) -> None:
        self.schema = schema
        self.dialect = dialect
        self.metadata = sa.MetaData()
        self.tables: dict[str, sa.Table] = {}
        self.meta = sa.Table(
            "ftrack_like_meta",
            self.metadata,
            sa.Column("key", sa.Text, primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        self._build()
        #: The event log's tables (not entities: no query reaches them).
        self.events = define_event_tables(self.metadata)
        #: The uploads of the server location's files.
        self.files = define_file_tables(self.metadata)
        #: ShotGrid's endpoint's: integer ids, event row numbers, retired rows (``protocols/shotgrid``).
        self.shotgrid = define_shotgrid_tables(self.metadata)
        #: Aquarium's endpoint's: the item data and edges our model keeps no other way (``protocols/aquarium``).
        self.aquarium = define_aquarium_tables(self.metadata)

    def table(self, entity_type: EntityType) -> sa.Table:
        return self.tables[entity_type.table]  # type: ignore[index]

    # --- building -------------------------------------------------------------------------

    def _build(self) -> None:
        families: dict[str, list[EntityType]] = {}
        for entity_type in self.schema:
            families.setdefault(entity_type.table, []).append(entity_type)  # type: ignore[arg-type]
        for table_name, members in families.items():
            self.tables[table_name] = self._table(table_name, members)

    def _table(self, name: str, members: list[EntityType]) -> sa.Table:
        keys = {m.primary_key for m in members}
        if len(keys) != 1:
            raise SchemaError(f"Types in table {name!r} disagree on the primary key: {sorted(keys)}")
        primary_key = next(iter(keys))
        columns: dict[str, sa.Column[Any]] = {}
        indexed: set[str] = set()
        unique: set[str] = set()
        foldable: set[str] = set()
        classifiers = {column for m in members for column in m.classifier}
        for member in members:
            for attribute in member.scalars:
                column_type = COLUMN_TYPES[attribute.type or "string"]
                if attribute.name in columns:
                    if not isinstance(columns[attribute.name].type, column_type):
                        raise SchemaError(f"Table {name!r}: attribute {attribute.name!r} has two types")
                    continue
                arguments: list[Any] = []
                if attribute.references and attribute.foreign_key:
                    target = self.schema[attribute.references]
                    arguments.append(
                        sa.ForeignKey(
                            f"{target.table}.{target.primary_key[0]}",
                            ondelete=(attribute.on_delete or "").upper() or None,
                            use_alter=self.dialect.name == "postgresql",
                        )
                    )
                if attribute.references:
                    indexed.add(attribute.name)
                is_key = attribute.name in primary_key
                autoincrement = is_key and attribute.type == "integer" and len(primary_key) == 1
                columns[attribute.name] = sa.Column(
                    attribute.name,
                    column_type(),
                    *arguments,
                    primary_key=is_key,
                    autoincrement=autoincrement,
                    nullable=not is_key,
                )
                if attribute.index:
                    indexed.add(attribute.name)
                if attribute.unique:
                    unique.add(attribute.name)
                if folds(attribute):
                    foldable.add(attribute.name)
        # Classifier columns get no index of their own: a handful of values over millions of
        # rows, an index on one only tempts the planner away from the selective ones.
        indexed -= set(primary_key[:1]) | unique | classifiers
        constraints = [sa.UniqueConstraint(c, name=f"uq_{name}_{c}") for c in sorted(unique)]
        indexes = [sa.Index(f"ix_{name}_{c}", c) for c in sorted(indexed)]
        composite = dict.fromkeys(index for member in members for index in member.indexes)
        indexes += [sa.Index(f"ix_{name}_{'_'.join(columns)}", *columns) for columns in composite]
        # Text compared without case (``name is "task"``) reads an index of its folded values.
        folded_columns = sorted((indexed | unique) & foldable)
        indexes += folded_indexes(name, [columns[c] for c in folded_columns], self.dialect)
        return sa.Table(name, self.metadata, *columns.values(), *constraints, *indexes)

    # --- the database ---------------------------------------------------------------------

    def create_engine(self, url: str, timeout: float | None = None, **options: Any) -> sa.Engine:
        """An engine for ``url`` with the settings this storage needs.

        ``timeout`` (seconds) becomes PostgreSQL's ``statement_timeout`` on every connection.
        """
        if self.dialect.name == "sqlite":
            engine = sa.create_engine(engine_url(url), **options)
            sa.event.listen(engine, "connect", _sqlite_connect)
            sa.event.listen(engine, "begin", _sqlite_begin)
            return engine
        engine = sa.create_engine(engine_url(url), **options)
        _ping_when_idle(engine)
        if timeout is not None:
            # Set once per new connection (not per batch); the URL's own options stay as they are.
            sa.event.listen(engine, "connect", _statement_timeout(max(1, int(timeout * 1000))))
        return engine

    def batch_connection(self, engine: sa.Engine, writes: bool, bare: bool = False) -> sa.Connection:
        """A connection for one batch (``bare``: it only reads, and takes no lock, writes nothing and
        sets nothing for a transaction — ``SET LOCAL``, ``pg_advisory_xact_lock`` — on the way).

        On PostgreSQL a bare batch runs without a transaction: in READ COMMITTED each of its
        statements sees what it would see inside one, and the server is spared a ``BEGIN`` and a
        ``COMMIT`` (two round trips of five for a one-row read). Anything else keeps its transaction
        (a lock taken in autocommit would end with its statement). SQLite's reads keep theirs:
        there a transaction is one snapshot for all its statements.
        """
        connection = engine.connect().execution_options(ftrack_writes=writes)
        if bare and not writes and self.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection

    @contextlib.contextmanager
    def time_limit(self, connection: sa.Connection, deadline: float | None, here: bool = False) -> Iterator[None]:
        """Have the database stop this connection's statements past ``deadline`` (``time.monotonic()``).

        On SQLite a progress handler interrupts the running statement (``sqlite3.OperationalError:
        interrupted``). PostgreSQL's connections carry ``statement_timeout`` from
        :meth:`create_engine` (SQLSTATE 57014), set once per connection; with ``here`` (a
        deadline of its own, such as a read's), the time left is set for this transaction.
        """
        if deadline is not None and here and self.dialect.name == "postgresql":
            left = max(1, int((deadline - time.monotonic()) * 1000))
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {left}")
        if deadline is None or self.dialect.name != "sqlite":
            yield
            return
        raw = connection.connection.driver_connection
        raw.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)  # type: ignore[union-attr]
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)  # type: ignore[union-attr]

    def optimize(self, connection: sa.Connection) -> None:
        """Refresh the planner's statistics where that is the database's job to ask for.

        SQLite plans without statistics until ANALYZE runs; ``PRAGMA optimize`` (with an
        analysis limit, so it stays cheap on big tables) gathers them where they are
        missing or stale. PostgreSQL's autovacuum does this by itself.
        """
        if self.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA analysis_limit=1000")
            connection.exec_driver_sql("PRAGMA optimize=0x10002")

    def install(self, connection: sa.Connection) -> bool:
        """Create the tables of a new database; True when it was new.

        An existing database is only checked (not written by a newer version): its
        upgrades are revisions of :mod:`.upgrades`.
        """
        if self.dialect.name == "postgresql":
            # Building indexes on a big production may take longer than a batch is allowed.
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        if not sa.inspect(connection).has_table(self.meta.name):
            self.metadata.create_all(connection)
            return True
        rows = dict(connection.execute(sa.select(self.meta.c.key, self.meta.c.value)).all())
        version = int(rows.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"The database was written by a newer version (storage version {version}, this is "
                f"{SCHEMA_VERSION}); upgrade ftrack_like_api"
            )
        return False

    def record(self, connection: sa.Connection) -> None:
        """Note the storage version and the schema's hash in the database."""
        for key, value in (("schema_version", str(SCHEMA_VERSION)), ("schema_hash", self.schema.hash)):
            updated = connection.execute(self.meta.update().where(self.meta.c.key == key).values(value=value))
            if not updated.rowcount:
                connection.execute(self.meta.insert().values(key=key, value=value))


#: Rows from which PostgreSQL receives them by COPY instead of INSERTs.
COPY_FROM = 100


@contextlib.contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that will write: on SQLite it takes the write lock up front (``BEGIN IMMEDIATE``).

    A deferred transaction that reads, then writes, fails at once with "database is
    locked" when another process committed in between; this one waits its turn instead.
    """
    with engine.connect().execution_options(ftrack_writes=True) as connection, connection.begin():
        yield connection


def one_statement(engine: sa.Engine) -> sa.Connection:
    """A connection for a single read: on PostgreSQL with no transaction around it (no ``BEGIN`` and ``ROLLBACK``,
    two round trips, on every request that checks a key); elsewhere as usual."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def insert_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], rows_per_insert: int) -> None:
    """Insert ``rows`` (dicts; a missing column is NULL) into ``table``, as fast as the database takes them.

    PostgreSQL gets many rows by ``COPY … FROM STDIN`` (a third less time than pipelined
    INSERTs for 10,000 tasks); errors come as SQLAlchemy's, as from an INSERT. Otherwise
    an executemany of ``rows_per_insert`` rows at a time.
    """
    columns = list(dict.fromkeys(name for row in rows for name in row))
    if connection.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        _copy(connection, table, columns, rows)
        return
    uniform = [{name: row.get(name) for name in columns} for row in rows]
    statement = table.insert().execution_options(insertmanyvalues_page_size=rows_per_insert)
    for start in range(0, len(uniform), rows_per_insert):
        connection.execute(statement, uniform[start : start + rows_per_insert])


def _copy(connection: sa.Connection, table: sa.Table, columns: list[str], rows: list[dict[str, Any]]) -> None:
    import psycopg

    preparer = connection.dialect.identifier_preparer
    statement = f"COPY {preparer.format_table(table)} ({', '.join(preparer.quote(c) for c in columns)}) FROM STDIN"
    raw = connection.connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row([row.get(name) for name in columns])
    except psycopg.Error as error:
        raise sa.exc.DBAPIError.instance(statement, None, error, psycopg.Error, dialect=connection.dialect) from error


#: A pooled connection given back less than this many seconds ago is taken as alive; an older one is
#: tried first (``SELECT 1``), and replaced if the database closed it meanwhile (a restart, an idle timeout).
PING_AFTER = 1.0


def _ping_when_idle(engine: sa.Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections idle :data:`PING_AFTER` seconds or more only.

    A ping is a round trip on every request, and a busy worker hands its connections out
    again within milliseconds: a request of a few milliseconds spent two of its round trips
    (the key's check and the batch each take a connection) asking whether the database was
    still there a moment after it last answered. A connection that fails its ping is
    replaced, as with ``pool_pre_ping``.
    """
    ping = engine.dialect.do_ping

    def connected(dbapi_connection: Any, record: Any) -> None:
        record.info["ftrack_used"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("ftrack_used", 0.0) < PING_AFTER:
            return
        try:
            ping(dbapi_connection)
        except Exception as error:  # the driver's: the database went away meanwhile
            raise sa.exc.DisconnectionError(f"a pooled connection failed its ping: {error}") from error

    def checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["ftrack_used"] = time.monotonic()

    sa.event.listen(engine, "connect", connected)
    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "checkin", checkin)


def _statement_timeout(milliseconds: int) -> Any:
    def connect(dbapi_connection: Any, connection_record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {milliseconds}")
        dbapi_connection.commit()

    return connect


def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy's "begin" event start transactions (pysqlite's own is off).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "busy_timeout=30000", "foreign_keys=ON", "synchronous=NORMAL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    # A batch that writes takes the write lock up front: a deferred transaction that
    # upgrades from reading to writing can fail at once with "database is locked"
    # instead of waiting out the busy timeout.
    immediate = connection.get_execution_options().get("ftrack_writes", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
