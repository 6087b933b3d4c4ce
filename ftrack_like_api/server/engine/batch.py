"""What one batch knows while it runs: its connection, its user, its lookups and its queued rows.

The writer fills it as operations are carried out; the backend makes one per batch
and flushes it before the commit.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Iterable

import sqlalchemy as sa

from ..auth.permissions import Principal
from .storage import insert_rows

__all__ = ["BatchContext", "row_key"]


class BatchContext:
    """What one batch knows: the connection, the acting user, lookups made so far, rows to insert.

    Created rows are queued per table and sent as multi-row inserts, table by table in
    an order the batch learns: tables rank in the order they are first written to, and a
    row that refers to a row queued for a table of a later rank sends the queues first
    and moves its table after them. So a script that records a tree — a shot, its tasks,
    their assignments, an asset and its versions, shot after shot — costs one insert per
    table, not one per entity.
    Anything that reads or writes through :attr:`connection` sends the queues first, so
    every statement sees the rows before it. ``grouped=False`` inserts each row at once
    (to find which operation broke a constraint).

    :attr:`created` holds the rows this batch created, by key: the fills of a child
    created in the same batch (its project, sort, version number) are answered from it
    instead of from the database.
    """

    def __init__(self, connection: sa.Connection, principal: Principal, grouped: bool = True) -> None:
        self._connection = connection
        #: Who acts, and what they may see and change.
        self.principal = principal
        self.user_id = principal.id
        #: The operation being carried out.
        self.index = 0
        #: Rows created or changed in types that belong to projects, for a user who writes in some
        #: projects only: per type, (operation index, action, key values) — checked before the commit.
        self.written: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
        #: Contexts created, renamed or moved, by id: the last operation that did (index, action,
        #: type, key), for the checks made once the whole batch is applied (``integrity.py``).
        self.contexts: dict[Any, tuple[int, str, str, Any]] = {}
        self.grouped = grouped
        self.now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        self.cache: dict[tuple[Any, ...], Any] = {}
        self.created: dict[Any, dict[str, Any]] = {}
        #: Keys of created rows that an update made something else point at.
        self.adopted: set[Any] = set()
        #: What the batch changed, for its ``ftrack.update`` events: (action, concrete type, key
        #: values, the row before, the values after), in order.
        self.changed: list[tuple[str, Any, tuple[Any, ...], Any, Any]] = []
        #: Queued rows, and rows per statement, per table.
        self._queues: dict[sa.Table, tuple[list[dict[str, Any]], int]] = {}
        #: The rank of each table written to: queues are sent in this order.
        self._ranks: dict[sa.Table, int] = {}
        #: The rank of the table of each queued row, by the row's key.
        self._queued: dict[Any, int] = {}
        #: What later updates of the batch set on the rows it creates, by (type, key): see :meth:`plan`.
        self.later: dict[tuple[str, Any], dict[str, Any]] = {}

    def plan(self, operations: Iterable[Any]) -> None:
        """Note what updates set on entities the batch created before them (last value wins).

        A required value is required of the batch as a whole, as ftrack's server does: a
        create that leaves one out is fine when an update later in the same batch gives it
        (the writer takes the value from here when it creates the row).
        """
        created: set[tuple[str, Any]] = set()
        for operation in operations:
            if not isinstance(operation, Mapping) or not isinstance(operation.get("entity_type"), str):
                continue
            action, data = operation.get("action"), operation.get("entity_data")
            if action == "create" and isinstance(data, Mapping) and isinstance(data.get("id"), (str, int)):  # else the writer says
                created.add((operation["entity_type"], data["id"]))
            elif action == "update" and isinstance(data, Mapping):
                key = operation.get("entity_key")
                key = key[0] if isinstance(key, (list, tuple)) and len(key) == 1 else key
                if isinstance(key, str) and (operation["entity_type"], key) in created:
                    self.later.setdefault((operation["entity_type"], key), {}).update(data)

    @property
    def connection(self) -> sa.Connection:
        """The batch's connection, with every queued row inserted."""
        self.flush()
        return self._connection

    def wrote(self, type_name: str, action: str, keys: dict[str, Any]) -> None:
        """Note a row of a project-bound type that this batch created or changed."""
        if self.principal.writable is not None:
            self.written.setdefault(type_name, []).append((self.index, action, keys))

    def remember(self, key: tuple[Any, ...], compute: Any) -> Any:
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def new(self, key: Any) -> bool:
        """Whether ``key`` is a row this batch created that nothing was moved under since."""
        return key in self.created and key not in self.adopted

    def updated(self, key: Any, changes: Mapping[str, Any]) -> None:
        """Keep what the batch knows of its own creates true after an update."""
        made = self.created.get(key)
        if made is not None:
            made.update(changes)
        for value in changes.values():
            if isinstance(value, str) and value in self.created:
                # Something now points at a new row (a child moved under it): count again.
                self.adopted.add(value)
                self.cache.pop(("sort", value), None)
                self.cache.pop(("version", value), None)

    def insert(self, table: sa.Table, row: dict[str, Any], rows_per_insert: int, key: Any) -> None:
        """Insert ``row`` (whose primary key is ``key``) into ``table``, now or with the queue."""
        if not self.grouped:
            self._connection.execute(table.insert(), [row])
            return
        rank = self._ranks.get(table)
        if rank is None:
            rank = self._ranks[table] = len(self._ranks)
        if rank < len(self._ranks) - 1 and self._queued:
            queued = self._queued
            if any(queued.get(value, -1) > rank for value in row.values() if isinstance(value, str)):
                # It refers to a row that would be sent after it: send the queues, and rank
                # its table last from now on.
                self.flush()
                others = sorted((t for t in self._ranks if t is not table), key=self._ranks.__getitem__)
                self._ranks = {t: r for r, t in enumerate([*others, table])}
                rank = self._ranks[table]
        queue = self._queues.get(table)
        if queue is None:
            queue = self._queues[table] = ([], rows_per_insert)
        self._queued[key] = rank
        queue[0].append(row)

    def flush(self) -> None:
        if not self._queues:
            return
        queues, self._queues, self._queued = self._queues, {}, {}
        for table in sorted(queues, key=self._ranks.__getitem__):
            rows, step = queues[table]
            insert_rows(self._connection, table, rows, step)


def row_key(values: Iterable[Any]) -> Any:
    """How a batch names a row by its primary key values: the value itself, or a tuple of several."""
    values = tuple(values)
    return values[0] if len(values) == 1 else values
