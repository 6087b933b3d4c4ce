"""Versioned upgrades of a studio database, with Alembic (``migrations/``, batch mode on SQLite).

Each database records the revision it is at (Alembic's ``alembic_version`` table). A new
database is built from today's schema and stamped at the head; one made before upgrades
were versioned has no revision and starts with the baseline ``0001``. A revision is
*additive* (``additive = True`` in its module) when it only adds — tables, columns,
indexes, rows — and drops or rewrites nothing the release before reads: opening the
database (``Backend.from_url``, so ``serve`` and every command) runs additive revisions
by itself. Any other revision waits for ``ftrack-like upgrade``, which runs them all; until
then, opening the database is refused with a message naming it.

The release before an additive upgrade keeps working on the upgraded database (servers
are upgraded one at a time): each upgrade notes in the database which revisions' code may
still open it (``readable_by`` in ``ftrack_like_meta``: the head and the revisions below it
up to the first that is not additive). A version that finds the database at a revision it
does not know opens it when its own head is among them, with a warning, and changes
nothing of what the newer version noted; otherwise it refuses, saying to upgrade.

One process upgrades at a time: on PostgreSQL a transaction-level advisory lock (per
schema), on SQLite the write lock (``BEGIN IMMEDIATE``). A process that waited finds the
database upgraded and has nothing left to do. Upgrades run in one transaction: all of
them, or none. On SQLite foreign keys are off meanwhile (a batch-mode revision copies and
drops tables) and checked with ``PRAGMA foreign_key_check`` before the commit.

A database of another schema than the shipped one (``Backend.from_url(schema=…)``) is not
versioned: built once, never upgraded.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import os
import warnings
from typing import Any, Iterator, Sequence

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory

from ...exceptions import SchemaError

__all__ = ["UpgradeRequired", "Upgrades", "check_references", "locked", "run_environment", "target_metadata", "upgrade_database"]

log = logging.getLogger(__name__)


class UpgradeRequired(SchemaError):
    """The database needs revisions that only ``ftrack-like upgrade`` runs."""


class Upgrades:
    """The revisions shipped (and any in ``locations``), and what one database still needs of them."""

    #: Set by :meth:`pending` when the database is at a newer revision this version may open.
    ahead: str | None = None

    def __init__(self, locations: Sequence[str] = ()) -> None:
        folder = importlib.resources.files(__package__).joinpath("migrations")
        self.config = Config()
        self.config.set_main_option("script_location", str(folder))
        self.config.set_main_option("path_separator", "os")
        if locations:
            self.config.set_main_option("version_locations", os.pathsep.join([str(folder.joinpath("versions")), *locations]))
        self.script = ScriptDirectory.from_config(self.config)

    @property
    def head(self) -> str:
        return self.script.get_current_head()  # type: ignore[return-value]

    def current(self, connection: sa.Connection) -> str | None:
        """The revision the database is at (None: new, or made before upgrades were versioned)."""
        return MigrationContext.configure(connection).get_current_revision()

    def pending(self, connection: sa.Connection) -> list[Script]:
        """The revisions the database still needs, oldest first."""
        current = self.current(connection)
        try:
            scripts = list(self.script.iterate_revisions(self.head, current))
        except Exception as error:  # alembic's CommandError / ResolutionError: a revision it does not know
            readers = _readable_by(connection)
            if self.head in readers:
                log.warning("the database is at revision %s, newer than this version of ftrack_like_api (%s); what "
                            "came since only adds, so this version opens it: upgrade ftrack_like_api when you can",
                            current, self.head)  # fmt: skip
                self.ahead = current
                return []
            raise SchemaError(
                f"The database is at revision {current}, which this version of ftrack_like_api does not know: "
                f"it was upgraded by a newer version"
                + (f" that only versions at {', '.join(readers)} may open" if readers else "")
                + "; upgrade ftrack_like_api"
            ) from error
        return list(reversed(scripts))

    def readers(self) -> list[str]:
        """The revisions whose code may open a database at the head: it, and those below up to a non-additive one."""
        found, script = [self.head], self.script.get_revision(self.head)
        while script is not None and getattr(script.module, "additive", False) and script.down_revision:
            down = script.down_revision
            if not isinstance(down, str):  # a merge of branches: stop there
                break
            found.append(down)
            script = self.script.get_revision(down)
        return found

    def _note_readers(self, connection: sa.Connection) -> None:
        value = ",".join(self.readers())
        if not connection.execute(_META.update().where(_META.c.key == "readable_by").values(value=value)).rowcount:
            connection.execute(_META.insert().values(key="readable_by", value=value))

    def stamp(self, connection: sa.Connection) -> None:
        """Record that a database built from today's schema is at the head."""
        self._run(connection, command.stamp, self.head)
        self._note_readers(connection)

    def upgrade(self, connection: sa.Connection, automatic: bool = False) -> list[Script]:
        """Run the revisions the database needs, in the caller's transaction; those that ran.

        With ``automatic`` (opening the database), refuse with :class:`UpgradeRequired`
        when one of them is not additive.
        """
        pending = self.pending(connection)
        if not pending:
            return []
        if automatic:
            held = [script for script in pending if not getattr(script.module, "additive", False)]
            if held:
                raise UpgradeRequired(
                    f"The database needs upgrades that are not run on start ({', '.join(describe(s) for s in held)}): "
                    f"back it up, stop the servers and run `ftrack-like upgrade`"
                )
        log.info("upgrading the database from %s to %s: %s", pending[0].down_revision or "before versioned upgrades",
                 self.head, ", ".join(describe(s) for s in pending))  # fmt: skip
        self._run(connection, command.upgrade, self.head)
        self._note_readers(connection)
        return pending

    def _run(self, connection: sa.Connection, action: Any, revision: str) -> None:
        self.config.attributes["connection"] = connection
        try:
            action(self.config, revision)
        finally:
            self.config.attributes.pop("connection", None)


#: The storage's key-value table (:class:`~.storage.Storage`'s ``meta``), as far as upgrades use it.
_META = sa.table("ftrack_like_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def _readable_by(connection: sa.Connection) -> list[str]:
    """What the newest upgrade noted of the versions that may open the database ([] when nothing)."""
    if not sa.inspect(connection).has_table("ftrack_like_meta"):
        return []
    value = connection.execute(sa.select(_META.c.value).where(_META.c.key == "readable_by")).scalar()
    return [revision for revision in (value or "").split(",") if revision]


def describe(script: Script) -> str:
    """``0002 (add the review tables)``: a revision's id and the first line of its docstring."""
    return f"{script.revision} ({(script.doc or '').strip().splitlines()[0].rstrip('.') if script.doc else 'no description'})"


@contextlib.contextmanager
def locked(connection: sa.Connection) -> Iterator[None]:
    """A transaction that one process at a time holds for building or upgrading the database.

    ``connection`` must have been opened with ``execution_options(ftrack_writes=True)``
    (SQLite's ``BEGIN IMMEDIATE``). On SQLite foreign keys are off inside it: call
    :func:`check_references` before it ends when something was written.
    """
    raw = connection.connection.driver_connection if connection.dialect.name == "sqlite" else None
    if raw is not None:
        raw.execute("PRAGMA foreign_keys=OFF")  # it counts only outside a transaction
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('ftrack_like_api upgrade ' || current_schema()))")
            yield
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")


def check_references(connection: sa.Connection) -> None:
    """Refuse (roll back) when a row's reference points nowhere (SQLite, whose checks :func:`locked` turned off)."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        shown = ", ".join(f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in broken[:5])
        raise SchemaError(f"Refusing to commit rows whose references point nowhere: {shown}")


def upgrade_database(url: str, sql: bool = False) -> list[str]:
    """Run every revision the database at ``url`` needs (what ``ftrack-like upgrade`` does); lines to print.

    With ``sql``, the revisions run in a transaction that is rolled back: the lines are the
    SQL statements they sent to this database (reads left out), and nothing is changed.
    """
    from ..auth.tables import define_tables
    from .backend import load_schema
    from .dialects import dialect_for
    from .storage import Storage

    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    storage = Storage(load_schema(), dialect_for(url))
    define_tables(storage.metadata)
    if storage.dialect.name == "sqlite":
        database = sa.engine.make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:") and not os.path.exists(database):
            raise SchemaError(f"There is no database at {shown}: `ftrack-like init` builds one")
    upgrades = Upgrades()
    engine = storage.create_engine(url)
    statements: list[str] = []

    def keep(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith(("SELECT", "PRAGMA", "WITH")):
            statements.append(statement.strip() + ";" + (f"  -- {parameters}" if parameters else ""))

    try:
        with engine.connect().execution_options(ftrack_writes=True) as connection:
            with locked(connection):
                if not sa.inspect(connection).has_table(storage.meta.name):
                    raise SchemaError(f"{shown} holds no studio database: `ftrack-like init` builds one")
                storage.install(connection)  # refuses a database of a newer storage version
                before = upgrades.current(connection)
                if sql:
                    sa.event.listen(connection, "before_cursor_execute", keep)
                ran = upgrades.upgrade(connection)
                check_references(connection)
                if sql:
                    sa.event.remove(connection, "before_cursor_execute", keep)
                    connection.rollback()
                    return [f"-- {shown}: from {before or 'before versioned upgrades'} to {upgrades.head}, "
                            f"rolled back", *statements]  # fmt: skip
                storage.record(connection)
    finally:
        engine.dispose()
    if not ran:
        return [f"{shown} is at revision {upgrades.head} (the newest): nothing to upgrade"]
    return [f"upgraded {shown} from {before or 'before versioned upgrades'} to revision {upgrades.head}: "
            f"{', '.join(describe(s) for s in ran)}"]  # fmt: skip


def target_metadata(dialect_name: str) -> sa.MetaData:
    """Every table today's code defines, as built on ``dialect_name``: what a database at the head holds."""
    from ..auth.tables import define_tables
    from .backend import load_schema
    from .dialects import dialect_for
    from .storage import Storage

    storage = Storage(load_schema(), dialect_for(f"{dialect_name}://"))
    define_tables(storage.metadata)
    return storage.metadata


def run_environment(context: Any) -> None:
    """What ``migrations/env.py`` does: run the revisions on the connection :class:`Upgrades` hands it.

    Alembic's own command line works too, with ``sqlalchemy.url`` set (for
    ``alembic revision --autogenerate`` while writing a revision).
    """
    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise SchemaError("No database to upgrade: run `ftrack-like upgrade --database URL`")
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            _configure(context, connection)
            with context.begin_transaction(), _unreflected_expression_indexes():
                context.run_migrations()
            connection.commit()
        engine.dispose()
        return
    _configure(context, connection)
    with context.begin_transaction(), _unreflected_expression_indexes():
        context.run_migrations()


@contextlib.contextmanager
def _unreflected_expression_indexes() -> Iterator[None]:
    """Revisions read a table's indexes; SQLite's reflection skips the folded (expression) ones
    (``lower(name)``, revision 0015) with a warning, which is no news: each is made IF NOT EXISTS."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning)
        yield


def _configure(context: Any, connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata(connection.dialect.name),
                      render_as_batch=True, compare_type=True)  # fmt: skip
