"""Run a ``query`` action: rows in the wire format, nested projections included.

The main query selects the rows of the queried type (a page of them: by ``offset``, or
after a cursor, :mod:`.paging`). Each reference or collection named by a projection is
then loaded with one more query per level, for all rows at once (:mod:`.loading`). Each
entity is encoded in full the first time it appears in an answer; later appearances are
references (type and primary key) and any new attributes merge into the first
(:mod:`.encoding`).

Statements are kept by query shape (:mod:`.statements`): a request of a shape seen
before builds no SQL, it binds its values to the statement kept.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from ...exceptions import QueryError
from ...query import ast
from ...schema import Attribute, EntityType, Kind
from .compact import Included
from .compiler import Compiler
from .computed import Computed
from .custom_attributes import CustomAttributes
from .encoding import Encoding, Extra, Registry, Tree
from .encoding import rows as _rows
from .listings import Listing
from .loading import Loader
from .paging import Keys
from .statements import Prepared, StatementCache, shape
from .values import to_wire

__all__ = ["Reader"]

#: A related-keys subquery finding at most this many keys is run first and its keys bound as values.
RESOLVE_AT_MOST = 500
#: Statements a reader keeps, by shape (see :mod:`.statements`).
STATEMENTS = 1024
#: The longest path a query may name (``parent.parent.name`` is 3): far past any real one, short of recursion.
MAX_PATH = 24
#: The largest ``limit`` or ``offset`` (the database counts in 64 bits, and a page reads one row more).
MAX_PAGE = 2**63 - 2

AGGREGATES: dict[str, Callable[..., sa.ColumnElement[Any]]] = {
    "count": sa.func.count, "sum": sa.func.sum, "avg": sa.func.avg, "min": sa.func.min, "max": sa.func.max,
}


class Reader:
    """Answers ``query`` actions for one compiler's schema and storage.

    With ``max_rows``, an answer holds at most that many rows: a query without a limit, or
    with a larger one, gets the first ``max_rows`` and ``metadata.next.offset`` saying where
    the next page starts (clients page on, as ftrack's do).
    """

    def __init__(self, compiler: Compiler, max_rows: int | None = None, statements: int = STATEMENTS) -> None:
        if max_rows is not None and max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {max_rows}")
        self.max_rows = max_rows
        #: The statements built so far, by shape and scope.
        self.statements = StatementCache(statements)
        self.compiler = compiler
        self.schema = compiler.schema
        self.storage = compiler.storage
        self.computed = Computed(compiler)
        self.custom = CustomAttributes(compiler)
        for entity_type in self.schema:
            for attribute in entity_type.attributes.values():
                if attribute.computed:
                    self.computed.check(entity_type, attribute)
        self.encoding = Encoding(self.schema, self.computed)
        self.loader = Loader(compiler, self.encoding, self.computed, self.custom, self.statements)

    def query(
        self, connection: sa.Connection, text: str, after: str | None = None, compact: bool = False,
        listing: Listing | None = None, extra: Extra | None = None,
    ) -> dict[str, Any]:
        """The answer to ``text``; with ``after`` (a cursor from ``metadata.next.after``), its page after that row;
        ``compact``: in the compact form (each referenced entity once, in ``included``; see :mod:`.compact`);
        ``listing`` (compact only): what the listing this is a page of sent before (see :mod:`.listings`) —
        the answer's ``included_base`` says where its ``included`` starts among the listing's places.
        ``extra``: a value more of each entity, read with it (a protocol's own, see :class:`.Extra`).

        With a cursor the query's ``offset`` is not skipped again: it only counts for the
        next page's ``offset``.
        """
        query, values = shape(text)
        _check_bounds(query, text)
        included = Included(listing) if compact else None
        entity_type = self.compiler.entity_type(query.entity_type, text)
        asked = query.limit
        if self.max_rows is not None and (asked is None or asked > self.max_rows):
            query = query.page(query.offset, self.max_rows)
        if query.group_by or any(isinstance(p, ast.Aggregate) for p in query.projections):
            if after is not None:
                raise QueryError("'after' pages entities; grouped rows page by offset", text)
            rows, more = self._grouped(connection, entity_type, query, values, text)
            cursor = None
        else:
            rows, more, cursor = self._entities(connection, entity_type, query, values, text, after, included, extra)
        offset = query.offset or 0
        following: dict[str, Any] = {"offset": offset + query.limit if more and query.limit is not None else None}
        if cursor is not None:
            following["after"] = cursor
        answer: dict[str, Any] = {"action": "query", "data": rows, "metadata": {"next": following}}
        if included is not None:
            answer["included"] = included.entities
            if listing is not None:
                answer["included_base"] = included.base
                included.done()
        return answer

    # --- statements by shape -----------------------------------------------------------------

    def _run(
        self,
        connection: sa.Connection,
        key: tuple[Any, ...],
        values: tuple[str, ...],
        text: str,
        build: Callable[[], tuple[sa.Select[Any], Any]],
        resolve: bool,
        bound: dict[str, Any] | None = None,
    ) -> tuple[sa.CursorResult[Any], Any]:
        """Run the statement of a shape (``key``) with a request's slot ``values``: (its result, what
        ``build`` gave beside it). ``build()`` makes (the statement, anything to keep with it) on a
        shape's first request; the statement is kept under ``key`` and the user's scope. With
        ``resolve`` (a paged query), the related keys are looked up first and sent as values.
        ``bound`` are more parameters of the statement (a cursor's values).
        """
        key = (*key, self.compiler.scope())
        prepared = self.statements.get(key)
        if prepared is None:
            with self.compiler.binding(values, resolve=resolve) as binding:
                statement, extra = build()
            self.statements.builds += 1
            prepared = Prepared.of(binding, statement, extra)
            if binding.reusable:
                self.statements.put(key, prepared)
        parameters = prepared.parameters(values, text, self.compiler.coerce)
        if bound:
            parameters.update(bound)
        plain = self._resolve(connection, prepared, parameters)
        statement = prepared.statements.get(plain)  # type: ignore[assignment]
        if statement is None:  # some keys were too many to send: those stay subqueries
            with self.compiler.binding(values, plain):
                statement, _ = build()
            self.statements.builds += 1
            prepared.statements[plain] = statement
        return connection.execute(statement, parameters), prepared.extra

    def _resolve(self, connection: sa.Connection, prepared: Prepared, parameters: dict[str, Any]) -> frozenset[int]:
        """Run a shape's related-keys lookups; put the keys each found into ``parameters`` (``__keysN``),
        and give the numbers of those that found more than :data:`RESOLVE_AT_MOST`."""
        if not prepared.keys:
            return frozenset()
        found: dict[int, list[Any]] = {}
        parameters["__most"] = RESOLVE_AT_MOST + 1
        for lookup in prepared.lookups:
            for number, key in connection.execute(lookup, parameters):
                found.setdefault(number, []).append(key)
        plain = set()
        for number in range(prepared.keys):
            keys = found.get(number, [])
            if len(keys) > RESOLVE_AT_MOST:
                plain.add(number)
            else:
                parameters[f"__keys{number}"] = keys
        return frozenset(plain)

    # --- entities ---------------------------------------------------------------------------

    def _entities(
        self,
        connection: sa.Connection,
        entity_type: EntityType,
        query: ast.Query,
        values: tuple[str, ...],
        text: str,
        after: str | None = None,
        included: Included | None = None,
        extra: Extra | None = None,
    ) -> tuple[list[Any], bool, str | None]:
        table = self.storage.table(entity_type)
        keys = Keys(self.compiler, entity_type, table, query, text)
        start = keys.values(after, text) if after is not None else None

        def builder(segment: int | None) -> Callable[[], tuple[sa.Select[Any], Tree]]:
            def build() -> tuple[sa.Select[Any], Tree]:
                paths = [p for p in query.projections if isinstance(p, ast.Path)] or [
                    ast.Path.of(name) for name in entity_type.default_projections
                ]
                tree = self._tree(entity_type, paths, text)
                own = Keys(self.compiler, entity_type, table, query, text)
                where = [self.compiler.type_filter(entity_type, table), self.compiler.visible(entity_type, table)]
                if query.where is not None:
                    where.append(self.compiler.condition(entity_type, table, query.where, text))
                paged = bool(query.offset) or query.limit is not None
                # A page's extra column is worked out around the page (see _with_extra), a full read's in it.
                columns = [*self.encoding.columns(entity_type, table, tree, None if paged else extra), *own.labelled()]
                statement = sa.select(*columns).where(*[w for w in where if w is not None])
                if query.order_by or query.offset or query.limit is not None or segment is not None:
                    # Pages must not overlap or skip: the key settles ties. A full read needs no sort.
                    statement = statement.order_by(*own.order_by())
                if segment is None:
                    statement = _page(statement, query)[0]
                else:
                    # After a cursor: one segment of the rows after it (its values are bound, see Keys.parameters).
                    statement = statement.where(own.segments(start)[segment])  # type: ignore[arg-type]
                    statement = statement if query.limit is None else statement.limit(query.limit + 1)
                return (_with_extra(statement, own, entity_type, extra) if paged and extra else statement), tree

            return build

        limit = query.limit
        if start is None:
            shown = extra.key if extra is not None else None
            result, tree = self._run(connection, ("entities", query, shown), values, text, builder(None), limit is not None)
            index, rows = _rows(result)
        else:
            # The offset is not skipped after a cursor: one statement serves every page of the shape.
            shape_key = ("entities", query.page(None, limit), tuple(v is None for v in start), extra and extra.key)
            index, rows = {}, []
            for segment in range(len(keys.segments(start))):
                if limit is not None and len(rows) > limit:
                    break
                result, tree = self._run(
                    connection, (*shape_key, segment), values, text, builder(segment), limit is not None, keys.parameters(start)
                )  # fmt: skip
                found, part = _rows(result)
                index.update(found)
                rows.extend(part)
        more = limit is not None and len(rows) > limit
        rows = rows[:limit] if limit is not None else rows
        cursor = keys.cursor(rows[-1], index) if more and rows else None
        registry = Registry()
        # A query's rows are distinct entities, and the first an answer writes: each in full.
        data = self.encoding.new_rows(entity_type, tree, registry, index, rows, extra)
        self.loader.load(connection, entity_type, data, rows, index, tree, registry, text, included, extra=extra)
        return data, more, cursor

    def _tree(self, entity_type: EntityType, paths: Iterable[ast.Path], text: str) -> Tree:
        tree: Tree = {}
        for path in paths:
            level, current = tree, entity_type
            for depth, name in enumerate(path.segments):
                attribute = self.compiler.attribute(current, name, text)
                last = depth == len(path.segments) - 1
                if attribute.kind is Kind.SCALAR and not last:
                    raise QueryError(f"{current.name}.{name} is a value, so {path} cannot go on past it", text)
                if attribute.kind in (Kind.COLLECTION, Kind.MAPPED) and len(current.primary_key) != 1:
                    raise QueryError(f"{current.name} has a composite key; select its {name} separately", text)
                if attribute.kind is Kind.REFERENCE and len(self.compiler.target(attribute).primary_key) != 1:
                    raise QueryError(f"{current.name}.{name} points at a composite key; select its keys instead", text)
                level = level.setdefault(name, (attribute, {}))[1]
                if attribute.kind is not Kind.SCALAR:
                    current = self.compiler.target(attribute)
        return tree

    # --- grouped rows -----------------------------------------------------------------------

    def _grouped(
        self, connection: sa.Connection, entity_type: EntityType, query: ast.Query, values: tuple[str, ...], text: str
    ) -> tuple[list[Any], bool]:
        def build() -> tuple[sa.Select[Any], dict[str, Attribute]]:
            table = self.storage.table(entity_type)
            compiler = self.compiler
            joined = _Joins(compiler, entity_type, table, text)
            columns, attributes = [], {}
            grouped = {str(p) for p in query.group_by}
            for projection in query.projections:
                if isinstance(projection, ast.Aggregate):
                    column, _ = joined.column(projection.path)
                    columns.append(AGGREGATES[projection.function](column).label(projection.key))
                    continue
                if str(projection) not in grouped:
                    raise QueryError(f"{projection} is selected beside aggregates, so it must be in 'group by'", text)
                column, attributes[str(projection)] = joined.column(projection)
                columns.append(column.label(str(projection)))
            for path in query.group_by:  # ftrack answers with the grouped keys, selected or not
                if str(path) not in attributes:
                    column, attributes[str(path)] = joined.column(path)
                    columns.append(column.label(str(path)))
            group = [joined.column(p)[0] for p in query.group_by]
            order = [joined.column(key.path)[0] for key in query.order_by]
            order = [c.desc() if key.descending else c.asc() for c, key in zip(order, query.order_by)]
            where = [compiler.type_filter(entity_type, table), compiler.visible(entity_type, table)]
            if query.where is not None:
                where.append(compiler.condition(entity_type, table, query.where, text))
            statement = (
                sa.select(*columns).select_from(joined.source).where(*[w for w in where if w is not None])
                .group_by(*group).order_by(*order, *group)
            )  # fmt: skip
            return _page(statement, query)[0], attributes

        result, attributes = self._run(connection, ("grouped", query), values, text, build, query.limit is not None)
        limit = query.limit
        rows = result.mappings().all()
        more = limit is not None and len(rows) > limit
        rows = rows[:limit] if limit is not None else rows
        return [
            {k: (to_wire(attributes[k].type, v) if k in attributes else _number(v)) for k, v in row.items()} for row in rows
        ], more  # fmt: skip


class _Joins:
    """Outer joins along reference paths, for grouped queries (PostgreSQL groups by columns, not subqueries)."""

    def __init__(self, compiler: Compiler, entity_type: EntityType, table: sa.FromClause, text: str) -> None:
        self.compiler, self.entity_type, self.table, self.text = compiler, entity_type, table, text
        self.source: sa.FromClause = table
        self._aliases: dict[tuple[str, ...], tuple[EntityType, sa.FromClause]] = {}

    def column(self, path: ast.Path) -> tuple[sa.ColumnElement[Any], Attribute]:
        current, alias = self.entity_type, self.table
        for depth, name in enumerate(path.segments[:-1]):
            attribute = self.compiler.attribute(current, name, self.text)
            if attribute.kind is not Kind.REFERENCE:
                raise QueryError(f"Cannot group by {path}: {current.name}.{name} is not a reference", self.text)
            prefix = path.segments[: depth + 1]
            if prefix not in self._aliases:
                target = self.compiler.target(attribute)
                other = self.compiler.storage.table(target).alias()
                on = sa.and_(*self.compiler.join(current, alias, attribute, other))
                self.source = self.source.outerjoin(other, on)
                self._aliases[prefix] = (target, other)
            current, alias = self._aliases[prefix]
        attribute = self.compiler.attribute(current, path.segments[-1], self.text)
        column, _ = self.compiler.column(current, alias, attribute, self.text)
        return column, attribute


def _check_bounds(query: ast.Query, text: str) -> None:
    """A QueryError when the query's paths are too long or its page past what the database counts."""
    problem = _out_of_bounds(query)
    if problem is not None:
        raise QueryError(problem, text)


@functools.lru_cache(maxsize=1024)
def _out_of_bounds(query: ast.Query) -> str | None:
    for name in ("limit", "offset"):
        number = getattr(query, name)
        if number is not None and number > MAX_PAGE:
            return f"The {name} is {number}; it is at most {MAX_PAGE}"
    for node in ast.walk(query):
        if isinstance(node, ast.Path) and len(node.segments) > MAX_PATH:
            return f"The path {'.'.join(node.segments[:3])}… has {len(node.segments)} steps; at most {MAX_PATH}"
    return None


def _with_extra(statement: sa.Select[Any], keys: Keys, entity_type: EntityType, extra: Extra) -> sa.Select[Any]:
    """The page ``statement`` selects, with ``extra``'s column worked out for its rows only, in the same order: the
    databases work out a select's columns for the rows an ``offset`` skips too (and SQLite for every row it sorts)."""
    page = statement.subquery()
    column = extra.column(entity_type, page)
    if column is None:
        return statement
    return sa.select(*page.c, column.label(extra.key)).order_by(*keys.around(page))


def _page(statement: sa.Select[Any], query: ast.Query) -> tuple[sa.Select[Any], int | None]:
    if query.offset:
        statement = statement.offset(query.offset)
    if query.limit is not None:
        # One row more than asked tells whether there is a next page.
        statement = statement.limit(query.limit + 1)
    return statement, query.limit


def _number(value: Any) -> Any:
    # Aggregates come back as Decimal on PostgreSQL.
    if value is not None and not isinstance(value, (int, float, str, bool)):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value
