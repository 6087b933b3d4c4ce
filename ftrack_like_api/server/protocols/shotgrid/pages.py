"""The rows a ShotGrid read answers, from the engine's compact answer, with their integer ids read alongside.

A ``find`` is a query of the engine (its AST rendered, run by the reader under the
caller's permissions), asked for in the compact form (``engine/compact.py``): each entity
the rows refer to is written once, in ``included``, and a reference is its place there.
Putting each entity in its places is a look-up per reference, where rebuilding the
ftrack-form answer walked every row and copied every entity met twice.

Each entity's ShotGrid number (:mod:`.ids`) is read in the statement that reads the entity:
a column more, ``(select number from shotgrid_id where entity_id = <table>.id)``, for the
tables of the types ShotGrid names (an :class:`~...engine.encoding.Extra` of the reader), in
place of a look-up of every uuid of a page afterwards. Only entities that have no number yet
(made through ftrack's API, never answered here) cost a statement, which gives them one.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable

import sqlalchemy as sa

from ....query import ast, render
from ....schema import EntityType, Kind, Schema
from ...engine.encoding import Extra
from .ids import IntegerIds
from .mapping import Mapping

__all__ = ["NUMBER", "Page", "Pages", "placed"]

#: The types of key ``shotgrid_id.entity_id`` compares with.
TEXT = (None, "string", "text")
#: Where an entity's ShotGrid number is written in the reader's answer.
NUMBER = "__shotgrid_number__"

#: (rows, what their own id's and their entities' numbers are by uuid, the served entities with no number yet by
#: uuid with their type of ours, the answer's metadata).
Page = tuple[list[dict[str, Any]], dict[str, int], dict[str, str], dict[str, Any]]


class Pages:
    """Queries of the engine for ShotGrid records: rows whole, numbers known."""

    def __init__(self, reader: Any, schema: Schema, mapping: Mapping, ids: IntegerIds) -> None:
        self.reader, self.schema, self.mapping = reader, schema, mapping
        tables = {schema[t.ours].table for t in mapping.types.values() if t.ours in schema}
        number, entity_id = ids.table.c.number, ids.table.c.entity_id

        def column(entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[Any] | None:
            keys = entity_type.primary_key  # the uuid shotgrid_id.entity_id holds (text)
            if entity_type.table not in tables or len(keys) != 1 or entity_type.attributes[keys[0]].type not in TEXT:
                return None
            return sa.select(number).where(entity_id == table.c[keys[0]]).scalar_subquery()

        #: The reader's column more: each entity's number.
        self.extra = Extra(NUMBER, column)
        self._references: dict[str, frozenset[str]] = {}

    def read(self, connection: sa.Connection, query: ast.Query) -> Page:
        """The rows ``query`` finds, each entity they refer to in its places (see :data:`Page`)."""
        answer = self.reader.query(connection, render(query), compact=True, extra=self.extra)
        selected = [p.segments[0] for p in query.projections if isinstance(p, ast.Path)]
        rows = placed(self.schema, answer, self._references, selected or None)
        numbers: dict[str, int] = {}
        unnumbered: dict[str, str] = {}
        of_ours = self.mapping.of_ours
        for entity in itertools.chain(rows, answer["included"]):
            key, number = entity.get("id"), entity.get(NUMBER)
            if number is not None:
                numbers[key] = number
            elif isinstance(key, str) and of_ours(entity["__entity_type__"]) is not None:
                unnumbered[key] = entity["__entity_type__"]
        return rows, numbers, unnumbered, answer["metadata"]


def placed(schema: Schema, answer: dict[str, Any], known: dict[str, frozenset[str]] | None = None,
           selected: Iterable[str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The rows of the engine's compact ``answer`` (of a query of no listing) with each place in ``included``
    replaced by the entity there, in the rows and in the entities themselves (``known``: the attributes of each
    type of ours that hold entities, as found so far — kept by the caller from one answer to the next;
    ``selected``: the first names of the query's projections, where the rows may hold places — else every name)."""
    rows, included = answer["data"], answer["included"]
    known = {} if known is None else known

    def holding(kind: str) -> frozenset[str]:
        names = known.get(kind)
        if names is None:
            attributes = schema[kind].attributes.items()
            names = known[kind] = frozenset(n for n, a in attributes if a.kind is not Kind.SCALAR and not a.computed)
        return names

    for entity in included if selected is not None else itertools.chain(rows, included):
        names = holding(entity["__entity_type__"])
        for name, value in entity.items():  # (values replaced, no key added: the walk stays valid)
            if type(value) is int:  # a place in ``included`` (the compact form's reference), or a number
                if name in names:
                    entity[name] = included[value]
            elif type(value) is list and name in names:  # a collection: its places
                entity[name] = [included[place] for place in value]
    if selected is not None:
        first = tuple(dict.fromkeys(selected))
        for row in rows:
            names = holding(row["__entity_type__"])
            for name in first:
                value = row.get(name)
                if type(value) is int:
                    if name in names:
                        row[name] = included[value]
                elif type(value) is list and name in names:
                    row[name] = [included[place] for place in value]
    return rows  # type: ignore[no-any-return]
