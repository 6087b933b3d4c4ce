"""Retirement: ShotGrid's ``delete`` and ``revive``, over our engine's delete.

Retiring an entity deletes it through the engine's writer — so every protocol agrees at
once that it is gone, and the log says so (``remove``) — and keeps, in the same
transaction, the rows the database deleted: the entity's, those that cascaded from it (a
Shot's tasks, their assignments …) and its metadata and custom attribute values, as
JSON in ``shotgrid_retired``. ``revive`` puts those very rows back, under the same ids (so
the same ShotGrid integer ids), each restored entity appended to the batch's events as an
``add``. What pointed at a retired row from outside and was cleared by the database (``on
delete set null``: another entity's thumbnail) is not pointed back.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from ....exceptions import ValidationError
from ....schema import Kind
from ...engine.batch import BatchContext

__all__ = ["Retirement"]


class Retirement:
    """Retires and revives entities of one backend, keeping their rows in ``table``."""

    def __init__(self, backend: Any, table: sa.Table) -> None:
        self.backend, self.table = backend, table
        self.schema, self.storage = backend.schema, backend.storage
        tables = self.storage.metadata.tables
        #: Per table: the tables whose rows the database deletes with its rows (child, column, parent column).
        self.cascades: dict[str, list[tuple[sa.Table, str, str]]] = defaultdict(list)
        for child in tables.values():
            for fk in child.foreign_keys:
                if (fk.ondelete or "").upper() == "CASCADE":
                    self.cascades[fk.column.table.name].append((child, fk.parent.name, fk.column.name))
        #: Per table: a type stored in it (the concrete one comes from each row) and its mapped items (table, column).
        self.types: dict[str, Any] = {}
        self.mapped: dict[str, list[tuple[sa.Table, str]]] = defaultdict(list)
        for entity_type in self.schema:
            if entity_type.table is None:
                continue
            name = self.storage.table(entity_type).name
            base = self.types.get(name)
            if base is None or len(self.schema.subtypes(entity_type.name)) > len(self.schema.subtypes(base.name)):
                self.types[name] = entity_type
            for attribute in entity_type.attributes.values():
                if attribute.kind is Kind.MAPPED and attribute.via:
                    items = self.storage.table(backend.compiler.target(attribute))
                    if (items, attribute.via[0]) not in self.mapped[name]:
                        self.mapped[name].append((items, attribute.via[0]))

    def retire(self, batch: BatchContext, ours: str, key: str) -> None:
        """Delete ``key`` (of our type ``ours``) through the writer, keeping every row that goes with it."""
        connection = batch.connection
        saved: list[tuple[str, dict[str, Any]]] = []
        table = self.storage.table(self.schema[ours])
        self._collect(connection, table, table.c.id == key, saved, set())
        self.backend.writer.delete(batch, ours, [key])
        connection.execute(self.table.delete().where(self.table.c.entity_id == key))
        connection.execute(self.table.insert().values(
            entity_id=key, entity_type=ours, rows=json.dumps([[name, _plain(row)] for name, row in saved]),
            retired_at=batch.now, retired_by=batch.user_id))  # fmt: skip

    def _collect(self, connection: sa.Connection, table: sa.Table, where: Any, saved: list[Any], seen: set[Any]) -> None:
        for row in connection.execute(sa.select(table).where(where)).mappings().all():
            identity = (table.name, tuple(row[c.name] for c in table.primary_key))
            if identity in seen:
                continue
            seen.add(identity)
            saved.append((table.name, dict(row)))
            if "id" in row:
                for items, column in self.mapped.get(table.name, ()):
                    self._collect(connection, items, items.c[column] == row["id"], saved, seen)
            for child, column, parent_column in self.cascades.get(table.name, ()):
                self._collect(connection, child, child.c[column] == row[parent_column], saved, seen)

    def retired(self, connection: sa.Connection, ours: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """(uuid, the entity's own row) of each retired entity of the types ``ours``, oldest retirement first."""
        found = connection.execute(sa.select(self.table.c.entity_id, self.table.c.rows)
                                   .where(self.table.c.entity_type.in_(ours))
                                   .order_by(self.table.c.retired_at, self.table.c.entity_id)).all()  # fmt: skip
        return [(key, _own(key, json.loads(rows))) for key, rows in found]

    def holds(self, connection: sa.Connection, ours: str, key: str) -> bool:
        """Whether the entity ``key`` of our type ``ours`` is retired."""
        found = sa.select(sa.literal(1)).where(self.table.c.entity_id == key, self.table.c.entity_type == ours)
        return connection.execute(found).first() is not None

    def revive(self, batch: BatchContext, ours: str, key: str, shown: str) -> bool:
        """Put a retired entity's rows back; False when it is not retired (it lives)."""
        connection = batch.connection
        rows = connection.execute(sa.select(self.table.c.rows).where(self.table.c.entity_id == key,
                                                                     self.table.c.entity_type == ours)).scalar()  # fmt: skip
        if rows is None:
            return False
        tables = self.storage.metadata.tables
        restored = [(tables[name], _typed(tables[name], row)) for name, row in json.loads(rows)]
        first_table, first = restored[0]
        for fk in first_table.foreign_keys:  # what it hangs under must still be there
            value = first.get(fk.parent.name)
            if value is not None and connection.execute(sa.select(sa.literal(1)).where(fk.column == value)).first() is None:
                raise ValidationError(f"{shown} cannot be revived: its {fk.parent.name} ({value}) is gone", "gone")
        for table, row in restored:
            connection.execute(table.insert().values(row))
            entity_type = self.types.get(table.name)
            if entity_type is not None and all(c.name in row for c in table.primary_key):
                concrete = self.schema.concrete(entity_type.name, row)
                keys = tuple(row[k] for k in concrete.primary_key)
                batch.changed.append(("add", concrete, keys, None, row))
                if concrete.project:
                    batch.wrote(concrete.name, "create", {k: row[k] for k in concrete.primary_key})
                if table.name == "context":
                    batch.contexts[row["id"]] = (batch.index, "create", concrete.name, [row["id"]])
        connection.execute(self.table.delete().where(self.table.c.entity_id == key))
        return True


def _own(key: str, rows: list[Any]) -> dict[str, Any]:
    """The entity's own row of those kept, with the locations of a component among them (``component_locations``:
    what tells an Attachment from a PublishedFile)."""
    own = dict(rows[0][1])
    places = [row for name, row in rows[1:] if name == "component_location" and row.get("component_id") == key]
    if places:
        own["component_locations"] = places
    return own


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, (datetime.date, datetime.datetime)) else v for k, v in row.items()}


def _typed(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    typed = {}
    for name, value in row.items():
        kind = table.c[name].type
        if isinstance(value, str) and isinstance(kind, sa.DateTime):
            value = datetime.datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(kind, sa.Date):
            value = datetime.date.fromisoformat(value)
        typed[name] = value
    return typed
