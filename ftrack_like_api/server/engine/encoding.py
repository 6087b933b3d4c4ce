"""Rows in the wire format: what a projection selects, and each row written as an entity.

A projection tree (:data:`Tree`) says which attributes are read; :meth:`Encoding.columns`
gives the columns a select needs for it, and :meth:`Encoding.encoder` a function that
writes each row (a tuple) as ftrack writes an entity: in full the first time it appears
in an answer, as a reference after that.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, Callable, Sequence

import sqlalchemy as sa

from ...schema import Attribute, EntityType, Kind, Schema
from .computed import Computed
from .values import CONVERTERS

__all__ = ["Encoding", "Extra", "Index", "Registry", "Row", "Tree", "getter", "rows"]

#: A row of a result (a tuple), and where its columns are.
Row = Sequence[Any]
Index = dict[str, int]

#: A projection tree: attribute name → (attribute, the tree below it).
Tree = dict[str, tuple[Attribute, "Tree"]]

#: The entities of one answer already written in full, by (table, key).
Registry = dict[tuple[Any, ...], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Extra:
    """A value more written with each entity of an answer, under ``key``, read in the statement that reads the entity.

    Not an attribute of the schema, and never on ftrack's wire: a protocol's own value of an entity
    (ShotGrid's integer ids, ``protocols/shotgrid/ids.py``), which would otherwise cost a statement
    more per page. ``column(entity_type, table)`` is the value's column for rows of ``table`` (None:
    the type has none). Statements are kept by ``key``: one key, one ``column``.
    """

    key: str
    column: Callable[[EntityType, sa.FromClause], "sa.ColumnElement[Any] | None"]


class Encoding:
    """The columns and the encoding of rows for one schema (kept by a reader: it learns each type's family once)."""

    def __init__(self, schema: Schema, computed: Computed) -> None:
        self.schema = schema
        self.computed = computed
        self._concrete: dict[str, tuple[tuple[str, ...], list[EntityType], dict[tuple[Any, ...], EntityType]]] = {}

    def columns(
        self, entity_type: EntityType, table: sa.FromClause, tree: Tree, extra: Extra | None = None
    ) -> list[sa.ColumnElement[Any]]:
        """The columns to select from ``table`` for the projections ``tree``: the key, each subtype's
        system projections and classifier, the scalars asked for, the join columns of references
        (and ``extra``'s column, labelled with its key)."""
        names = dict.fromkeys(entity_type.primary_key)
        for member in self.schema.subtypes(entity_type.name):
            names.update(dict.fromkeys(self.system(member)))
            names.update(dict.fromkeys(member.classifier))
        computed = []
        for name, (attribute, _) in tree.items():
            if attribute.computed:
                if self.computed.is_column(attribute):
                    computed.append(self.computed.column(entity_type, table, attribute))
            elif attribute.kind is Kind.SCALAR:
                names[name] = None
            elif attribute.kind is Kind.REFERENCE:
                names.update(dict.fromkeys(attribute.via))
        more = extra.column(entity_type, table) if extra is not None else None
        if more is not None:
            computed.append(more.label(extra.key))  # type: ignore[union-attr]
        return [table.c[name] for name in names] + computed

    def system(self, entity_type: EntityType) -> list[str]:
        """The stored scalar system projections of ``entity_type`` (written with every entity)."""
        return [
            name for name in entity_type.system_projections
            if (a := entity_type.attributes.get(name)) is not None and a.kind is Kind.SCALAR and not a.hidden
        ]  # fmt: skip

    def _family(self, entity_type: EntityType) -> tuple[tuple[str, ...], list[EntityType], dict[Any, EntityType]]:
        known = self._concrete.get(entity_type.name)
        if known is None:
            family = list(self.schema.subtypes(entity_type.name))
            columns = tuple(sorted({c for t in family for c in t.classifier}))
            family.sort(key=lambda t: (len(t.classifier), not t.abstract), reverse=True)
            known = self._concrete[entity_type.name] = (columns, family, {})
        return known

    def encoder(
        self, entity_type: EntityType, tree: Tree, registry: Registry, index: Index, extra: Extra | None = None
    ) -> Callable[[Row], tuple[dict[str, Any], dict[str, Any]]]:
        """A function from a row (a tuple; ``index`` maps column names to positions) to
        (the entity's one full encoding, what to write at this place).

        The first time an entity appears in an answer it is written in full; after that,
        as a reference, and attributes asked for at the later place merge into the first.
        Everything that does not depend on the row is worked out here, once. ``extra``'s value,
        when its column was selected, is written with the entity in full.
        """
        more = (extra.key,) if extra is not None and extra.key in index else ()
        columns, _, by_values = self._family(entity_type)
        classifier_of = operator.itemgetter(*(index[c] for c in columns)) if columns else (lambda row: None)
        scalars = tuple(
            name for name, (a, _) in tree.items()
            if a.kind is Kind.SCALAR and (not a.computed or self.computed.is_column(a))
        )  # fmt: skip
        plans: dict[Any, tuple[Any, ...]] = {}  # by the classifier's values
        references: dict[tuple[Any, ...], dict[str, Any]] = {}
        merged: set[tuple[Any, ...]] = set()

        def plan_for(values: Any, row: Row) -> tuple[Any, ...]:
            concrete = by_values.get(values)
            if concrete is None:
                named = {column: row[index[column]] for column in columns}
                concrete = by_values[values] = self.schema.concrete(entity_type.name, named)
            names = dict.fromkeys([*self.system(concrete), *(n for n in scalars if n in concrete.attributes)])
            fields = tuple((name, CONVERTERS.get(concrete.attributes[name].type or ""), index[name]) for name in names)
            plain = tuple(name for name, convert, _ in fields if convert is None)
            converted = tuple(field for field in fields if field[1] is not None)
            keys = concrete.primary_key
            # An entity is made in one go: its type, its key, then the values written as they are.
            head = ("__entity_type__", *keys, *plain, *more)
            values_of = getter([index[name] for name in (*keys, *plain, *more)])
            return concrete.name, concrete.table, keys, len(keys), fields, head, values_of, converted

        def encode(row: Row) -> tuple[dict[str, Any], dict[str, Any]]:
            values = classifier_of(row)
            plan = plans.get(values)
            if plan is None:
                plan = plans[values] = plan_for(values, row)
            name, table, keys, width, fields, head, values_of, converted = plan
            found = values_of(row)
            key = found[0] if width == 1 else found[:width]
            identity = (table, key)
            first = registry.get(identity)
            if first is not None:
                if identity not in merged:  # attributes asked for here go into the first encoding, once
                    for field, convert, position in fields:
                        if field not in first:
                            value = row[position]
                            first[field] = convert(value) if convert is not None and value is not None else value
                    merged.add(identity)
                reference = references.get(identity)
                if reference is None:
                    reference = {"__entity_type__": name, **({keys[0]: key} if width == 1 else dict(zip(keys, key)))}
                    references[identity] = reference
                return first, reference
            encoded = dict(zip(head, (name, *found)))
            for field, convert, position in converted:
                value = row[position]
                encoded[field] = convert(value) if value is not None else None
            registry[identity] = encoded
            return encoded, encoded

        return encode


def rows(result: sa.CursorResult[Any]) -> tuple[Index, list[Row]]:
    """Every row of a result, and where each column is in a row."""
    index = {name: position for position, name in enumerate(result.keys())}
    return index, result.fetchall()  # type: ignore[return-value]


def getter(positions: list[int]) -> Callable[[Row], tuple[Any, ...]]:
    """A function giving the values at ``positions`` of a row, as a tuple however many there are."""
    if len(positions) > 1:
        return operator.itemgetter(*positions)  # type: ignore[return-value]
    if positions:
        position = positions[0]
        return lambda row: (row[position],)
    return lambda row: ()
