"""The engine behind the HTTP server and the embedded mode: execute a batch.

::

    backend = Backend.from_url("sqlite:///studio.db")
    backend.execute([{"action": "query", "expression": "Task limit 1"}], user="admin")

A batch runs in one transaction: every operation is carried out, or none is. The
answer is a list with one result per operation, or — when one fails — one error
object (ftrack's format) that also names the failing operation::

    {"exception": "ValidationError", "content": "Operation 2 (create Shot): …",
     "error_code": "missing_reference",
     "operation": {"index": 2, "action": "create", "entity_type": "Shot", "entity_key": null}}

A new database is created, its tables built and seeded on first use; an older one
is upgraded by the additive revisions it needs (see :mod:`.upgrades`).
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import time
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa

from ... import collector
from ...exceptions import DatabaseError, QueryError, ValidationError
from ...query import parse
from ...schema import Schema
from ...version import __version__
from ..auth.authenticator import Authenticator
from ..auth.tables import define_tables
from ..events import Broker, EventLog, StoredEvent
from ..events.updates import Updates
from ..files import Files
from .batch import BatchContext
from .compiler import Compiler
from .diagnosis import diagnose
from .dialects import Dialect, check_folder, dialect_for, open_failure
from .install import install
from .integrity import Integrity
from .listings import MAX_TOKEN, Listings
from .notes import complete_notes
from ..auth.permissions import PermissionDenied, Permissions, Roles
from .reader import Reader
from .refusals import database_failed, error_answer, error_object, kind_of, malformed
from .storage import Storage
from .writer import Writer

__all__ = ["Backend", "load_schema"]

log = logging.getLogger(__name__)

WRITE_ACTIONS = frozenset({"create", "update", "delete", "reset_remote"})
#: Actions that only read, with no lock nor setting of their own: a batch of nothing else may run without a
#: transaction on PostgreSQL (:meth:`.Storage.batch_connection`). A registered action never does: it may lock or write.
BARE_READS = frozenset({"query_server_information", "query_schemas", "query"})
#: The ftrack server version whose protocol this server speaks, as ``query_server_information``
#: reports it: clients check it (the official one wants 3.3.11 or later). Our own version comes
#: when asked for: ``{"action": "query_server_information", "values": ["ftrack_like_api_version"]}``.
PROTOCOL_VERSION = "4.13.0"
RETRIES = 5
#: Rows written between two refreshes of the query planner's statistics.
OPTIMIZE_EVERY = 10_000


def load_schema(name: str = "production") -> Schema:
    """A schema shipped in ``ftrack_like_api/server/engine/schemas/``."""
    text = importlib.resources.files(__package__).joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")
    return Schema.from_definition(json.loads(text))


#: What a backend does beyond ftrack's protocol (``query_server_information``'s ``features``): the
#: event log, the server location's files, and ``query --explain``. Served, a server says more.
FEATURES = ("events", "explain", "files")


class Backend:
    """Executes wire-format batches against one database."""

    def __init__(
        self,
        engine: sa.Engine,
        schema: Schema,
        dialect: Dialect,
        storage: Storage,
        timeout: float | None = None,
        query_timeout: float | None = None,
        max_rows: int | None = None,
    ) -> None:
        self.engine = engine
        #: Seconds a batch may run before it is stopped and rolled back (None: no limit).
        self.timeout = timeout
        #: Seconds a batch that only reads may run (None: as any batch).
        self.query_timeout = query_timeout
        self.schema = schema
        self.dialect = dialect
        self.storage = storage
        self.compiler = Compiler(schema, storage)
        self.reader = Reader(self.compiler, max_rows)
        #: What the listings' clients hold already (a worker's memory: see .listings).
        self.listings = Listings()
        self.writer = Writer(self.compiler)
        self.permissions = Permissions(self.compiler)
        self.integrity = Integrity(storage)
        #: Roles and project grants (the command line changes them; the API only reads them).
        self.roles = Roles(storage)
        #: API keys and roles (set by :meth:`from_url`).
        self.auth: Authenticator | None = None
        #: The event log (``ftrack.update`` of each batch that writes, and published events).
        self.events = EventLog(engine, storage.events)
        #: Wakes this process's readers of the log when it grows (the server starts and stops it).
        self.broker = Broker(self.events)
        self.updates = Updates(schema, storage.tables)
        self._written_since_optimize = 0
        #: Actions that write (a batch holding one takes SQLite's write lock up front); hooks run after each commit.
        self._writing, self._after_commit = set(WRITE_ACTIONS), list[Callable[[BatchContext], None]]()
        self._actions: dict[str, Callable[[BatchContext, Mapping[str, Any]], Any]] = {
            "query_server_information": self._server_information,
            "query_schemas": lambda batch, operation: self.schema.to_ftrack(),
            "query": self._query,
            "create": self._create,
            "update": self._update,
            "delete": self._delete,
            "reset_remote": self._reset_remote,
        }
        #: The server location's files (their actions are registered here; ``serve --storage`` configures them).
        self.files = Files(self)

    @classmethod
    def from_url(
        cls,
        url: str,
        schema: Schema | None = None,
        timeout: float | None = None,
        query_timeout: float | None = None,
        max_rows: int | None = None,
        **engine_options: Any,
    ) -> Backend:
        """A backend on ``sqlite:///path`` or ``postgresql://…``; a new database is built and seeded.

        With ``timeout`` (seconds), a batch still running after that long is stopped and
        rolled back, and its answer is a ``ServerError`` with the error code ``timeout``;
        ``query_timeout`` does the same for batches that only read. With ``max_rows``, a
        query answers at most that many rows and says where the next page starts.
        ``engine_options`` go to SQLAlchemy (``pool_size``, ``max_overflow``, ``pool_timeout`` …).
        """
        dialect = dialect_for(url)
        check_folder(url, dialect)
        versioned = schema is None or schema.hash == load_schema().hash
        schema = schema or load_schema()
        storage = Storage(schema, dialect)
        auth_tables = define_tables(storage.metadata)
        engine = storage.create_engine(url, timeout=timeout, **engine_options)
        try:
            install(engine, storage, versioned)
        except sa.exc.DBAPIError as error:
            engine.dispose()
            # One line, and never a password: the driver's reason, not SQLAlchemy's wrapping.
            raise DatabaseError(open_failure(url, str(error.orig))) from error
        except BaseException:
            engine.dispose()
            raise
        backend = cls(engine, schema, dialect, storage, timeout, query_timeout, max_rows)
        backend.auth = Authenticator(engine, auth_tables, storage.tables["resource"], backend.roles)
        return backend

    def close(self) -> None:
        self.broker.close()
        self.engine.dispose()

    def register_action(self, name: str, handler: Callable[[BatchContext, Mapping[str, Any]], Any], writes: bool = False) -> None:
        """Carry out operations of action ``name`` with ``handler(batch, operation)``; ``writes``: it writes rows."""
        self._actions[name] = handler
        if writes:
            self._writing.add(name)

    def after_commit(self, hook: Callable[[BatchContext], None]) -> None:
        """Call ``hook(batch)`` once each batch has committed (what it raises is logged, never answered)."""
        self._after_commit.append(hook)

    def publish(self, event: Mapping[str, Any], user_id: str | None = None) -> StoredEvent:
        """Append one event (ftrack's shape) in a transaction of its own, then tell the broker.

        ``user_id`` is who publishes (None: the server). A malformed event, or one whose id
        the log holds already, is a :class:`ValidationError`.
        """
        with self.engine.connect().execution_options(ftrack_writes=True) as connection:
            try:
                with connection.begin():
                    (seq,) = self.events.append(connection, [event], user_id)
            except sa.exc.IntegrityError:
                raise ValidationError(f"The log holds an event with id {event.get('id')!r} already", "duplicate_event") from None
            stored = self.events.read(seq - 1, limit=1, connection=connection)
        self.broker.notify(seq)
        return stored[0]

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- a batch ------------------------------------------------------------------------------

    def execute(
        self,
        operations: Sequence[Mapping[str, Any]],
        user: str,
        before_commit: Callable[[sa.Connection, list[Any]], None] | None = None,
        user_id: str | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> list[Any] | dict[str, Any]:
        """Carry out a batch as ``user`` (a username): a list of results, or one error object.

        ``user_id``, when the caller knows it (the HTTP server, from the credentials), is
        who acts: the user's name and roles are read afresh by it for each batch, so a
        rename or a new role counts at once. Without it the user is found by name.

        ``before_commit(connection, results)`` runs inside the batch's transaction once every
        operation has: what it writes is committed with the batch, or not at all (the HTTP
        server keeps the answer for an idempotent retry this way).

        A batch that writes appends its ``ftrack.update`` events to the log in its
        transaction (:mod:`..events.updates`); ``source`` adds to their ``source`` (the HTTP
        server names the API key: ``{"apiKey": {"name": …}}``).
        """
        if not isinstance(operations, (list, tuple)):
            return error_answer("ValidationError", "A batch is a list of operations", "bad_request")
        writes = any(isinstance(o, Mapping) and isinstance(o.get("action"), str) and o["action"] in self._writing for o in operations)
        timeout = self.timeout
        if not writes and self.query_timeout is not None:
            timeout = self.query_timeout if timeout is None else min(timeout, self.query_timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        with collector.paused():
            try:
                return self._execute(operations, (user, user_id), writes, deadline, before_commit, source)
            except _TimedOut as stopped:
                where = "while writing" if stopped.index is None else f"at operation {stopped.index}"
                log.warning("batch of %d operation(s) stopped %s after %.3g s", len(operations), where, timeout)
                return error_answer("ServerError", f"The batch ran longer than the server's limit of {timeout:g} s and "
                                             f"was stopped {where}; nothing was changed", "timeout")  # fmt: skip

    def _execute(
        self,
        operations: Sequence[Mapping[str, Any]],
        user: tuple[str, str | None],
        writes: bool,
        deadline: float | None,
        before_commit: Callable[[sa.Connection, list[Any]], None] | None,
        source: Mapping[str, Any] | None = None,
    ) -> list[Any] | dict[str, Any]:
        for attempt in range(RETRIES):
            try:
                return self._run(operations, user, writes, deadline, before_commit, source=source)
            except sa.exc.DBAPIError as error:
                if deadline is not None and (time.monotonic() >= deadline or _cancelled(error)):
                    raise _TimedOut(getattr(error, "ftrack_index", None)) from error
                if attempt < RETRIES - 1 and self._retryable(error):
                    log.info("batch hit %s, trying again (%d)", error.orig, attempt + 1)
                    time.sleep(0.05 * (attempt + 1))
                    continue
                return database_failed(error)
        raise AssertionError("unreachable")

    def _run(
        self,
        operations: Sequence[Mapping[str, Any]],
        user: tuple[str, str | None],
        writes: bool,
        deadline: float | None,
        before_commit: Callable[[sa.Connection, list[Any]], None] | None = None,
        grouped: bool = True,
        source: Mapping[str, Any] | None = None,
    ) -> list[Any] | dict[str, Any]:
        here = not writes and self.query_timeout is not None  # a read's own deadline (SET LOCAL: a transaction)
        bare = not writes and not (here and deadline is not None) and all(
            isinstance(o, Mapping) and isinstance(o.get("action"), str) and o["action"] in BARE_READS for o in operations
        )
        with self.storage.batch_connection(self.engine, writes, bare) as connection:
            transaction = connection.begin()
            try:
                with self.storage.time_limit(connection, deadline, here=here):
                    principal = self.permissions.principal(connection, *user)
                    if principal.id is None and principal.username:
                        raise ValidationError(f"No user {principal.username!r}: a batch acts as a user of this "
                                              "database (api_user)", "unknown_user")  # fmt: skip
                    batch = BatchContext(connection, principal, grouped=grouped)
                    if writes:
                        batch.plan(operations)
                    results = []
                    with self.compiler.scoped(principal.readable):
                        for index, operation in enumerate(operations):
                            if deadline is not None and time.monotonic() >= deadline:
                                raise _TimedOut(index)
                            results.append(self._operation(batch, index, operation))
                        if batch.changed:
                            complete_notes(batch, self.writer)
                        batch.flush()
                        self.integrity.check(batch)
                        self.permissions.check_written(connection, principal, batch.written)
                if before_commit is not None:
                    before_commit(connection, results)
                seqs = self._append_updates(batch, source) if batch.changed else ()
                transaction.commit()
                if seqs:
                    self.broker.notify(max(seqs))
                for hook in self._after_commit:
                    try:
                        hook(batch)
                    except Exception:  # committed already: the answer stands
                        log.exception("after-commit hook %r failed", hook)
                if writes:
                    self._after_writes(connection, len(operations))
                return results
            except ValidationError as error:
                transaction.rollback()
                return error_object(error)
            except sa.exc.IntegrityError as error:
                transaction.rollback()
                failed = getattr(error, "ftrack_index", None)
                if grouped:
                    # A multi-row insert failed: run the batch again one row at a time to find the operation.
                    return self._run(operations, user, writes, deadline, before_commit, grouped=False, source=source)
                return error_object(diagnose(self, operations, user, failed, error))
            except BaseException:
                transaction.rollback()
                raise

    def _append_updates(self, batch: BatchContext, source: Mapping[str, Any] | None) -> list[int]:
        """Append the batch's ``ftrack.update`` events in its transaction (the last thing before the commit)."""
        connection = batch.connection
        principal = batch.principal
        who = (principal.name, principal.username) if principal.name is not None else None
        if any(entity_type.table == "resource" and key == (principal.id,) for _, entity_type, key, _, _ in batch.changed):
            who = None  # the batch renamed its author, maybe: the events name them as they are now
        events = self.updates.events(connection, batch.changed, batch.created, batch.user_id, source, who)
        return self.events.append(connection, events, batch.user_id)

    def _after_writes(self, connection: sa.Connection, count: int) -> None:
        self._written_since_optimize += count
        if self._written_since_optimize >= OPTIMIZE_EVERY:
            self._written_since_optimize = 0
            with connection.begin():
                self.storage.optimize(connection)

    def _operation(self, batch: BatchContext, index: int, operation: Mapping[str, Any]) -> Any:
        if not isinstance(operation, Mapping):
            raise ValidationError(f"An operation is an object, not {kind_of(operation)}", "bad_request").at(index, None, None, None)
        action = operation.get("action")
        handler = self._actions.get(action) if isinstance(action, str) else None
        if handler is None:
            shown = action if isinstance(action, str) else None
            raise ValidationError(f"Invalid action {action!r}", "invalid_action").at(index, shown, None, None)
        problem = malformed(operation)
        if problem is not None:
            raise ValidationError(problem, "bad_request").at(index, action, None, None)
        entity_type, entity_key = operation.get("entity_type"), operation.get("entity_key")
        batch.index = index
        try:
            self.permissions.check(batch.principal, operation)
            return handler(batch, operation)
        except ValidationError as error:
            raise error.at(index, action, entity_type, entity_key) from None
        except QueryError as error:
            raise ValidationError(str(error), "invalid_query").at(index, action, entity_type, entity_key) from None
        except sa.exc.DBAPIError as error:
            error.ftrack_index = index  # type: ignore[attr-defined]
            raise

    def _retryable(self, error: sa.exc.DBAPIError) -> bool:
        state = getattr(error.orig, "sqlstate", None)
        if state in self.dialect.retry_sqlstates:
            return True
        return self.dialect.name == "sqlite" and "database is locked" in str(error.orig)

    # --- actions ------------------------------------------------------------------------------

    def _server_information(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        information: dict[str, Any] = {
            "version": PROTOCOL_VERSION,
            "schema_hash": self.schema.hash,
            "is_timezone_support_enabled": True,
            "storage_scenario": {"scenario": "ftrack.automatic", "data": {}},
            # Ours: what one batch may hold, operations and bytes of JSON (None: no limit, in-process;
            # the HTTP server states its own). A Session splits a larger commit by them.
            "max_operations": None,
            "max_body": None,
            # Ours: what this server does beyond ftrack's protocol, for a client to ask before it tries.
            "features": list(FEATURES),
            # Ours: a query operation may ask for its answer in the compact form (see .compact), and
            # name the listing it is a page of, each referenced entity then sent once (see .listings).
            "compact_answers": True,
            "compact_listings": True,
        }
        extras = {"ftrack_like_api_version": __version__}  # ours, given when asked for
        for value in operation.get("values") or ():
            if value != "schema_hash":
                information.setdefault(value, extras.get(value))
        return information

    def _query(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        expression = operation.get("expression")
        if not isinstance(expression, str):
            raise ValidationError("A query needs an 'expression' (text)", "bad_request")
        compact, token = operation.get("compact") is True, operation.get("listing")
        if token is None or not compact:
            return self.reader.query(batch.connection, expression, operation.get("after"), compact)
        known = operation.get("known", 0)
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN or type(known) is not int or known < 0:
            raise ValidationError(f"A listing is a token of at most {MAX_TOKEN} characters, with 'known' a count "
                                  "of at least 0", "bad_request")  # fmt: skip
        listing = self.listings.take(batch.user_id, token, parse(expression).page(None, None), known)
        answer = self.reader.query(batch.connection, expression, operation.get("after"), True, listing)
        self.listings.keep(batch.user_id, token, listing)
        return answer

    def _create(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        data = dict(operation.get("entity_data") or {})
        return {"action": "create", "data": self.writer.create(batch, operation.get("entity_type"), data)}  # type: ignore[arg-type]

    def _update(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        data = self.writer.update(
            batch, operation.get("entity_type"), operation.get("entity_key"), operation.get("entity_data") or {},  # type: ignore[arg-type]
            operation.get("expected"),
        )
        if operation.get("entity_type") == "User" and "is_active" in (operation.get("entity_data") or {}):
            self._disabled(batch, operation.get("entity_key"))
        return {"action": "update", "data": data}

    def _disabled(self, batch: BatchContext, entity_key: Any) -> None:
        """A user just disabled loses their sign-in tokens, for good: enabled again, they sign in again."""
        user_id = entity_key[0] if isinstance(entity_key, (list, tuple)) else entity_key
        resource = self.storage.tables["resource"]
        active = batch.connection.execute(sa.select(resource.c.is_active).where(resource.c.id == user_id)).scalar()
        if active is not None and not active and self.auth is not None:
            self.auth.end_tokens(str(user_id), batch.connection)

    def _delete(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        self.writer.delete(batch, operation.get("entity_type"), operation.get("entity_key"))  # type: ignore[arg-type]
        return {"action": "delete", "data": True}

    def _reset_remote(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        reset_type = operation.get("reset_type")
        if reset_type == "api_key":  # the shape the official client reads: result["api_key"]
            return {"data": {"api_key": self._reset_api_key(batch, operation)}}
        return {"data": self.writer.reset(batch, operation.get("entity_type"), operation.get("entity_key"), reset_type)}  # type: ignore[arg-type]

    def _reset_api_key(self, batch: BatchContext, operation: Mapping[str, Any]) -> str:
        """A new key named ``api_key`` for a user, their old one revoked; yourself, or anyone if admin."""
        if operation.get("entity_type") != "User" or self.auth is None:
            raise ValidationError("reset_remote api_key takes a User", "bad_request")
        user_id = self.writer.key(self.schema["User"], operation.get("entity_key"))["id"]
        resource = self.storage.tables["resource"]
        username = batch.connection.execute(sa.select(resource.c.username).where(resource.c.id == user_id)).scalar()
        if username is None:
            raise ValidationError(f"No User with id {user_id}", "not_found")
        if user_id != batch.user_id and not batch.principal.admin:
            raise PermissionDenied("Only admins reset other people's API keys", "permission")
        # On the batch's connection: part of its transaction, and no second writer waiting on SQLite's lock.
        self.auth.revoke(username, "api_key", batch.connection)
        return self.auth.create_key(username, "api_key", batch.connection)


class _TimedOut(Exception):
    """A batch ran past its deadline; ``index`` is the operation it was at, if known."""

    def __init__(self, index: int | None) -> None:
        super().__init__(index)
        self.index = index


def _cancelled(error: sa.exc.DBAPIError) -> bool:
    """The database stopped the statement for the deadline (PostgreSQL 57014, SQLite's interrupt)."""
    return getattr(error.orig, "sqlstate", None) == "57014" or str(error.orig) == "interrupted"
