"""What an ``update`` answers: the entity's key, its system projections and what the update changed.

ftrack's client clears its local values after a commit and keeps what the answer says, so
the answer carries the changed scalars, for each reference the update names the entity it
points at now (:meth:`Answers.reference`: else the client keeps the entity it read before, as
a component given another version kept its first one), and for the collections and key-value
items the update names, the items as they stand now (:meth:`Answers.members`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ...schema import Attribute, EntityType, Kind
from .batch import BatchContext, row_key
from .compiler import Compiler
from .values import to_wire

__all__ = ["Answers"]


class Answers:
    """Builds the answers of writes to one schema's storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.schema = compiler.schema
        self.storage = compiler.storage

    def written(self, entity_type: EntityType, row: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
        written: dict[str, Any] = {"__entity_type__": entity_type.name}
        for name in entity_type.primary_key:
            written[name] = row.get(name)
        for name in names:
            attribute = entity_type.attributes.get(name)
            if attribute is not None and attribute.kind is Kind.SCALAR:
                written[name] = to_wire(attribute.type, row.get(name))
        return written

    def system(self, entity_type: EntityType) -> list[str]:
        return [n for n in entity_type.system_projections if n in entity_type.attributes]

    def members(self, batch: BatchContext, entity_type: EntityType, attribute: Attribute, owner: Any) -> list[dict[str, Any]]:
        """References to the items of one entity's collection (for key-value items, with their key)."""
        target = self.compiler.target(attribute)
        table = self.storage.table(target)
        names = [*target.primary_key, *(c for m in self.schema.subtypes(target.name) for c in m.classifier)]
        if attribute.kind is Kind.MAPPED:
            names.append(attribute.key)
        columns = [table.c[n] for n in dict.fromkeys(names)]
        where = [table.c[column] == value for column, value in attribute.where.items()]
        type_filter = self.compiler.type_filter(target, table)
        if type_filter is not None:
            where.append(type_filter)
        if attribute.through is not None:
            link = self.storage.table(self.schema[attribute.through.type])
            source = table.join(link, link.c[attribute.through.remote] == table.c[target.primary_key[0]])
            statement = sa.select(*columns).select_from(source).where(link.c[attribute.through.local] == owner, *where)
        else:
            statement = sa.select(*columns).where(table.c[attribute.via[0]] == owner, *where)
        items = []
        for found in batch.connection.execute(statement.order_by(*(table.c[k] for k in target.primary_key))).mappings():
            concrete = self.schema.concrete(target.name, found)
            item = {"__entity_type__": concrete.name, **{k: found[k] for k in target.primary_key}}
            if attribute.kind is Kind.MAPPED:
                item[attribute.key] = found[attribute.key]
            items.append(item)
        return items

    def reference(self, batch: BatchContext, attribute: Attribute, row: Mapping[str, Any]) -> dict[str, Any] | None:
        """A reference to the entity ``row``'s ``attribute`` points at (of its most specific type), or None."""
        values = [row.get(local) for local in attribute.via]
        if any(value is None for value in values):
            return None
        target = self.compiler.target(attribute)
        keys = dict(zip(target.primary_key, values))
        family = self.schema.subtypes(target.name)
        classifiers = list(dict.fromkeys(c for member in family for c in member.classifier))
        concrete = target
        if classifiers:
            made: Mapping[Any, Any] | None = batch.created.get(row_key(values))
            if made is None:
                table = self.storage.table(target)
                made = batch.connection.execute(
                    sa.select(*(table.c[c] for c in classifiers)).where(*(table.c[k] == v for k, v in keys.items()))
                ).mappings().first()  # fmt: skip
            if made is not None:
                concrete = self.schema.concrete(target.name, made)
        return {"__entity_type__": concrete.name, **keys}
