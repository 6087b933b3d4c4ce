"""Rows in the wire format: what a projection selects, and each row written as an entity.

A projection tree (:data:`Tree`) says which attributes are read; :meth:`Encoding.columns`
gives the columns a select needs for it, and :meth:`Encoding.encoder` a function that
writes each row (a tuple) as ftrack writes an entity: in full the first time it appears
in an answer, as a reference after that. A query's own rows, distinct and the first an
answer writes, are written in one pass (:meth:`Encoding.new_rows`), by a function made
once per shape of row.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine.cursor import CursorFetchStrategy

from ...schema import Attribute, EntityType, Kind, Schema
from .computed import Computed
from .values import CONVERTERS

#: How SQLAlchemy reads a result's rows when it reads them straight from the driver's cursor.
_DIRECT = CursorFetchStrategy

__all__ = ["Encoding", "Extra", "Index", "Registry", "Row", "Tree", "rows"]

#: A row of a result (a tuple), and where its columns are.
Row = Sequence[Any]
Index = dict[str, int]

#: A projection tree: attribute name → (attribute, the tree below it).
Tree = dict[str, tuple[Attribute, "Tree"]]


class Registry:
    """The entities of one answer already written in full, by table and key.

    A query's own rows are noted as they are (:meth:`add_rows`) and looked up by key only if a
    later level of the answer reads the same table (a task's parent among the tasks listed):
    most answers never do, and keying 75,000 rows is a tenth of their writing.
    """

    __slots__ = ("_tables", "_rows")

    def __init__(self) -> None:
        self._tables: dict[str | None, dict[Any, dict[str, Any]]] = {}
        self._rows: dict[str | None, list[tuple[Callable[[Row], Any], list[Row], list[dict[str, Any]]]]] = {}

    def table(self, name: str | None) -> dict[Any, dict[str, Any]]:
        """The entities of table ``name`` written so far, by key (a tuple for a composite key): to read and add to."""
        entities = self._tables.get(name)
        if entities is None:
            entities = self._tables[name] = {}
        for key_of, rows, encoded in self._rows.pop(name, ()):
            entities.update(zip(map(key_of, rows), encoded))
        return entities

    def add_rows(
        self, name: str | None, key_of: Callable[[Row], Any], rows: list[Row], encoded: list[dict[str, Any]]
    ) -> None:
        """Note ``encoded``, the entities of ``rows`` of table ``name`` (``key_of`` a row gives its key)."""
        entities = self._tables.get(name)
        if entities is not None:  # looked up already: its readers hold this dict
            entities.update(zip(map(key_of, rows), encoded))
        else:
            self._rows.setdefault(name, []).append((key_of, rows, encoded))


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
        plans = _Plans(self, entity_type, tree, index, extra)
        references: dict[tuple[Any, ...], dict[str, Any]] = {}
        merged: set[tuple[Any, ...]] = set()

        tables: dict[str | None, dict[Any, dict[str, Any]]] = {}  # the registry's, for this encoder's tables

        def encode(row: Row) -> tuple[dict[str, Any], dict[str, Any]]:
            plan = plans.of(row)
            key = plan.key_of(row)
            entities = tables.get(plan.table)
            if entities is None:
                entities = tables[plan.table] = registry.table(plan.table)
            first = entities.get(key)
            if first is not None:
                identity = (plan.table, key)
                if identity not in merged:  # attributes asked for here go into the first encoding, once
                    for field, convert, position in plan.fields:
                        if field not in first:
                            value = row[position]
                            first[field] = convert(value) if convert is not None and value is not None else value
                    merged.add(identity)
                reference = references.get(identity)
                if reference is None:
                    keys = plan.keys
                    reference = {"__entity_type__": plan.name, **dict(zip(keys, key if len(keys) > 1 else (key,)))}
                    references[identity] = reference
                return first, reference
            encoded = entities[key] = plan.build(row)
            return encoded, encoded

        return encode

    def new_rows(
        self,
        entity_type: EntityType,
        tree: Tree,
        registry: Registry,
        index: Index,
        rows: list[Row],
        extra: Extra | None = None,
    ) -> list[dict[str, Any]]:
        """Each of ``rows`` written in full, in order, and noted in ``registry``: what :meth:`encoder`'s
        function gives for rows of distinct entities that ``registry`` does not hold yet (a query's own
        rows, the first thing an answer writes), made in one pass per concrete type rather than row by row."""
        if not rows:
            return []
        columns, family, _ = self._family(entity_type)
        if len(family) > 1 and any(len(set(map(operator.itemgetter(index[c]), rows))) > 1 for c in columns):
            # Several concrete types (a TypedContext's rows): row by row.
            encode = self.encoder(entity_type, tree, registry, index, extra)
            return [encode(row)[0] for row in rows]
        plan = _Plans(self, entity_type, tree, index, extra).of(rows[0])
        encoded = list(map(plan.build, rows))
        registry.add_rows(plan.table, plan.key_of, rows, encoded)
        return encoded


class _Plan:
    """How rows of one concrete type are written: its name, table and key (``key_of`` a row: the value,
    or a tuple of a composite key's), the fields to read (name, converter, position), and ``build``, a
    function from a row to the entity written in full."""

    __slots__ = ("name", "table", "keys", "key_of", "fields", "build")

    def __init__(self, concrete: EntityType, names: list[str], index: Index, more: tuple[str, ...]) -> None:
        self.name, self.table, self.keys = concrete.name, concrete.table, concrete.primary_key
        self.key_of: Callable[[Row], Any] = operator.itemgetter(*(index[k] for k in self.keys))
        self.fields = tuple((name, CONVERTERS.get(concrete.attributes[name].type or ""), index[name]) for name in names)
        plain = tuple(name for name, convert, _ in self.fields if convert is None)
        converted = tuple(field for field in self.fields if field[1] is not None)
        # The entity as one dict display (its size known at once): its type, its key, the values as they
        # are, then the converted ones.
        items = ["'__entity_type__': name"]
        items += [f"{name!r}: row[{index[name]}]" for name in (*self.keys, *plain, *more)]
        for number, (name, _, position) in enumerate(converted):
            items.append(
                f"{name!r}: None if (value{number} := row[{position}]) is None else convert{number}(value{number})"
            )
        self.build = _builder(f"lambda row: {{{', '.join(items)}}}", self.name, tuple(c for _, c, _ in converted))


@functools.lru_cache(maxsize=1024)
def _builder(source: str, name: str, converters: tuple[Callable[[Any], Any], ...]) -> Callable[[Row], dict[str, Any]]:
    """The function ``source`` says, made once per shape of row (as ``collections.namedtuple`` makes its class):
    compiling it is a tenth of a millisecond, as much as writing a page of 100 rows."""
    constants: dict[str, Any] = {"name": name, **{f"convert{n}": c for n, c in enumerate(converters)}}
    return eval(source, constants)  # type: ignore[no-any-return]


class _Plans:
    """The plans of one encoder, by the classifier's values of a row (a polymorphic type's rows differ)."""

    __slots__ = ("encoding", "entity_type", "index", "more", "scalars", "columns", "by_values", "classifier_of", "plans")  # fmt: skip

    def __init__(
        self, encoding: Encoding, entity_type: EntityType, tree: Tree, index: Index, extra: Extra | None
    ) -> None:
        self.encoding, self.entity_type, self.index = encoding, entity_type, index
        self.more = (extra.key,) if extra is not None and extra.key in index else ()
        self.columns, _, self.by_values = encoding._family(entity_type)
        self.classifier_of = operator.itemgetter(*(index[c] for c in self.columns)) if self.columns else None
        self.scalars = tuple(
            name for name, (a, _) in tree.items()
            if a.kind is Kind.SCALAR and (not a.computed or encoding.computed.is_column(a))
        )  # fmt: skip
        self.plans: dict[Any, _Plan] = {}

    def of(self, row: Row) -> _Plan:
        """The plan for ``row``'s concrete type."""
        values = self.classifier_of(row) if self.classifier_of is not None else None
        plan = self.plans.get(values)
        if plan is None:
            concrete = self.by_values.get(values)
            if concrete is None:
                named = {column: row[self.index[column]] for column in self.columns}
                concrete = self.by_values[values] = self.encoding.schema.concrete(self.entity_type.name, named)
            system = self.encoding.system(concrete)
            names = list(dict.fromkeys([*system, *(n for n in self.scalars if n in concrete.attributes)]))
            plan = self.plans[values] = _Plan(concrete, names, self.index, self.more)
        return plan


def rows(result: sa.CursorResult[Any]) -> tuple[Index, list[Row]]:
    """Every row of a result, and where each column is in a row."""
    index = {name: position for position, name in enumerate(result.keys())}
    if _plain(result):  # nothing for SQLAlchemy to convert (psycopg makes every value): the driver's own tuples
        found = result.cursor.fetchall()
        result.close()
        return index, found  # type: ignore[return-value]
    return index, result.fetchall()  # type: ignore[return-value]


def _plain(result: sa.CursorResult[Any]) -> bool:
    """Whether ``result``'s rows are the driver's as they are: SQLAlchemy converts no value of theirs (as it does
    SQLite's datetimes and booleans), leaves out no column, and holds none of them back in a buffer. PostgreSQL's
    only: psycopg has every row by the time the statement returns, so fetching them raises no database error
    (SQLite runs the statement as its rows are fetched, and a time limit stops it there: SQLAlchemy's fetch
    turns that into the DBAPIError a batch's time limit answers; a bare fetch would not)."""
    metadata = result._metadata
    return (
        result.dialect.name == "postgresql"
        and getattr(metadata, "_tuplefilter", True) is None
        and not any(getattr(metadata, "_processors", (True,)))
        and type(result.cursor_strategy) is _DIRECT
    )
