"""Run a ``query`` action: rows in the wire format, nested projections included.

The main query selects the rows of the queried type. Each reference or collection
named by a projection (``status.name``, ``assignments.resource.username``) is then
loaded with one more query per level, for all rows at once, keyed on the join
columns: 5,000 tasks with ``status.name`` cost two queries, not 5,001, and no row
is multiplied by a join. Each entity is encoded in full the first time it appears
in an answer; later appearances are references (type and primary key) and any new
attributes merge into the first.

Statements are kept by query shape (:mod:`.statements`): a request of a shape seen
before builds no SQL, it binds its values to the statement kept.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Iterable, Sequence

import sqlalchemy as sa

from ...exceptions import QueryError
from ...query import ast
from ...schema import Attribute, EntityType, Kind
from .compiler import Compiler
from .computed import Computed
from .custom_attributes import CustomAttributes
from .paging import Keys
from .statements import Prepared, StatementCache, shape
from .values import CONVERTERS, to_wire

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

#: A row of a result (a tuple), and where its columns are.
Row = Sequence[Any]
Index = dict[str, int]

#: A projection tree: attribute name → (attribute, the tree below it).
Tree = dict[str, tuple[Attribute, "Tree"]]


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
        self._concrete: dict[str, tuple[tuple[str, ...], list[EntityType], dict[tuple[Any, ...], EntityType]]] = {}

    def query(self, connection: sa.Connection, text: str, after: str | None = None) -> dict[str, Any]:
        """The answer to ``text``; with ``after`` (a cursor from ``metadata.next.after``), its page after that row.

        With a cursor the query's ``offset`` is not skipped again: it only counts for the
        next page's ``offset``.
        """
        query, values = shape(text)
        _check_bounds(query, text)
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
            rows, more, cursor = self._entities(connection, entity_type, query, values, text, after)
        offset = query.offset or 0
        following: dict[str, Any] = {"offset": offset + query.limit if more and query.limit is not None else None}
        if cursor is not None:
            following["after"] = cursor
        return {"action": "query", "data": rows, "metadata": {"next": following}}

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
                columns = [*self._columns(entity_type, table, tree), *own.labelled()]
                statement = sa.select(*columns).where(*[w for w in where if w is not None])
                if query.order_by or query.offset or query.limit is not None or segment is not None:
                    # Pages must not overlap or skip: the key settles ties. A full read needs no sort.
                    statement = statement.order_by(*own.order_by())
                if segment is None:
                    return _page(statement, query)[0], tree
                # After a cursor: one segment of the rows after it (its values are bound, see Keys.parameters).
                statement = statement.where(own.segments(start)[segment])  # type: ignore[arg-type]
                return (statement if query.limit is None else statement.limit(query.limit + 1)), tree

            return build

        limit = query.limit
        if start is None:
            result, tree = self._run(connection, ("entities", query), values, text, builder(None), limit is not None)
            index, rows = _rows(result)
        else:
            # The offset is not skipped after a cursor: one statement serves every page of the shape.
            shape_key = ("entities", query.page(None, limit), tuple(v is None for v in start))
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
        registry: dict[tuple[Any, ...], dict[str, Any]] = {}
        data, parents = [], []
        encode = self.encoder(entity_type, tree, registry, index)
        for row in rows:
            canonical, written = encode(row)
            data.append(written)
            parents.append((canonical, row))
        self._load(connection, entity_type, parents, index, tree, registry, text)
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

    def _columns(self, entity_type: EntityType, table: sa.FromClause, tree: Tree) -> list[sa.ColumnElement[Any]]:
        names = dict.fromkeys(entity_type.primary_key)
        for member in self.schema.subtypes(entity_type.name):
            names.update(dict.fromkeys(self._system(member)))
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
        return [table.c[name] for name in names] + computed

    def _system(self, entity_type: EntityType) -> list[str]:
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
        self, entity_type: EntityType, tree: Tree, registry: dict[tuple[Any, ...], dict[str, Any]], index: Index
    ) -> Callable[[Row], tuple[dict[str, Any], dict[str, Any]]]:
        """A function from a row (a tuple; ``index`` maps column names to positions) to
        (the entity's one full encoding, what to write at this place).

        The first time an entity appears in an answer it is written in full; after that,
        as a reference, and attributes asked for at the later place merge into the first.
        Everything that does not depend on the row is worked out here, once.
        """
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
            names = dict.fromkeys([*self._system(concrete), *(n for n in scalars if n in concrete.attributes)])
            fields = tuple((name, CONVERTERS.get(concrete.attributes[name].type or ""), index[name]) for name in names)
            plain = tuple(name for name, convert, _ in fields if convert is None)
            converted = tuple(field for field in fields if field[1] is not None)
            keys = concrete.primary_key
            # An entity is made in one go: its type, its key, then the values written as they are.
            head = ("__entity_type__", *keys, *plain)
            values_of = _getter([index[name] for name in (*keys, *plain)])
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

    def _load(
        self,
        connection: sa.Connection,
        entity_type: EntityType,
        parents: list[tuple[dict[str, Any], Row]],
        index: Index,
        tree: Tree,
        registry: dict[tuple[Any, ...], dict[str, Any]],
        text: str,
    ) -> None:
        """Fill the reference and collection projections of ``parents``, one query per attribute."""
        for attribute, _ in tree.values():
            if attribute.computed and not self.computed.is_column(attribute) and parents:
                key = index[entity_type.primary_key[0]]
                self.computed.fill(connection, entity_type, attribute, [(c, row[key]) for c, row in parents])
        for name, (attribute, subtree) in tree.items():
            if attribute.kind is Kind.SCALAR or not parents:
                continue
            target = self.compiler.target(attribute)
            if attribute.kind is Kind.MAPPED:
                subtree = {**{n: (target.attributes[n], {}) for n in (attribute.key, attribute.value)}, **subtree}
            table = self.storage.table(target)
            children: dict[int, tuple[dict[str, Any], Row]] = {}
            # Through a polymorphic type, a subtype's meaning of the name (TypedContext.status beside
            # Project.status): the rows of other subtypes do not get it.
            owners = parents
            if name not in entity_type.attributes:
                means: dict[str, bool] = {}  # per concrete type: whether its `name` is this attribute
                for concrete in {c["__entity_type__"] for c, _ in parents}:
                    means[concrete] = self.schema[concrete].attributes.get(name) == attribute
                owners = [(c, row) for c, row in parents if means[c["__entity_type__"]]]
            if attribute.kind is Kind.REFERENCE:
                via = index[attribute.via[0]]
                wanted = {row[via] for _, row in owners} - {None}
                if not wanted:  # every one is null (a project's parent): nothing to fetch, nor to go on from
                    for canonical, _ in owners:
                        canonical[name] = None
                    continue
                found_index, hits = self._fetch(connection, target, table, subtree, wanted)
                encode = self.encoder(target, subtree, registry, found_index)
                key_position = found_index[target.primary_key[0]]
                found = {hit[key_position]: hit for hit in hits}
                repeats: dict[Any, dict[str, Any] | None] = {}
                for canonical, row in owners:
                    key = row[via]
                    if key in repeats:  # many rows, few targets: write the reference, skip the work
                        canonical[name] = repeats[key]
                        continue
                    hit = found.get(key)
                    if hit is None:
                        canonical[name] = repeats[key] = None
                        continue
                    child, written = encode(hit)
                    canonical[name] = written
                    repeats[key] = encode(hit)[1]
                    children[id(child)] = (child, hit)
            else:
                parent_key = index[entity_type.primary_key[0]]
                keys = {row[parent_key] for _, row in owners}
                grouped: dict[Any, list[Row]] = {}
                columns = self._columns(target, table, subtree)
                found_index, hits = self._fetch_members(connection, entity_type, attribute, target, table, columns, keys)
                encode = self.encoder(target, subtree, registry, found_index)
                owner = found_index.get("__parent__", 0)  # absent only when nothing was fetched
                for hit in hits:
                    grouped.setdefault(hit[owner], []).append(hit)
                if attribute.kind is Kind.MAPPED and self.custom.holds(target):
                    self._add_unstored_values(connection, target, owners, index, parent_key, found_index, grouped)
                for canonical, row in owners:
                    items = []
                    for hit in grouped.get(row[parent_key], ()):
                        child, written = encode(hit)
                        items.append(written)
                        children[id(child)] = (child, hit)
                    canonical[name] = items
            self._load(connection, target, list(children.values()), found_index, subtree, registry, text)

    def _add_unstored_values(
        self,
        connection: sa.Connection,
        target: EntityType,
        parents: list[tuple[dict[str, Any], Row]],
        index: Index,
        owner_key: int,
        found_index: Index,
        grouped: dict[Any, list[Row]],
    ) -> None:
        """Add to ``grouped`` the custom attributes each owner has but no stored value for."""
        object_type = index.get("object_type_id")
        project = index.get("project_id")
        configuration = found_index["configuration_id"]
        owners = []
        for canonical, row in parents:
            concrete = self.schema[canonical["__entity_type__"]]
            key = row[owner_key]
            project_id = row[project] if project is not None else (key if concrete.name == "Project" else None)
            owners.append((concrete, key, row[object_type] if object_type is not None else None, project_id))
        stored = {key: {hit[configuration] for hit in hits} for key, hits in grouped.items()}
        width = len(found_index)
        for key, values in self.custom.missing(connection, owners, stored).items():
            for value in values:
                row = [None] * width
                for column, item in {**target.classifier, **value, "__parent__": key}.items():
                    if column in found_index:
                        row[found_index[column]] = item
                grouped.setdefault(key, []).append(tuple(row))

    def _fetch(
        self, connection: sa.Connection, target: EntityType, table: sa.FromClause, tree: Tree, wanted: set[Any]
    ) -> tuple[Index, list[Row]]:
        """The rows of ``target`` whose key is one of ``wanted``, with the columns of the projections ``tree``."""
        if not wanted:
            return {}, []
        ordered = sorted(wanted, key=str)
        key = table.c[target.primary_key[0]]
        if len(ordered) > self.storage.dialect.long_in_list:  # the keys go as one parameter: a statement of their own
            return _rows(connection.execute(self._fetching(target, table, tree, self.storage.dialect.in_values(key, ordered))))
        shape = ("fetch", target.name, tuple(tree), self.compiler.scope())
        prepared = self.statements.get(shape)
        if prepared is None:
            statement = self._fetching(target, table, tree, key.in_(sa.bindparam("__wanted", expanding=True)))
            prepared = Prepared((), (), 0, {frozenset(): statement})
            self.statements.put(shape, prepared)
        parameters = prepared.parameters((), "", self.compiler.coerce)
        parameters["__wanted"] = ordered
        return _rows(connection.execute(prepared.statements[frozenset()], parameters))

    def _fetching(self, target: EntityType, table: sa.FromClause, tree: Tree, keys: sa.ColumnElement[bool]) -> sa.Select[Any]:
        """The select of ``target``'s rows for the projections ``tree`` where ``keys`` holds (and the user may see them)."""
        where = [keys]
        for condition in (self.compiler.type_filter(target, table), self.compiler.visible(target, table)):
            if condition is not None:
                where.append(condition)
        return sa.select(*self._columns(target, table, tree)).where(*where)

    def _fetch_members(
        self,
        connection: sa.Connection,
        owner: EntityType,
        attribute: Attribute,
        target: EntityType,
        table: sa.Table,
        columns: list[sa.ColumnElement[Any]],
        keys: set[Any],
    ) -> tuple[Index, list[Row]]:
        ordered = sorted(keys - {None}, key=str)
        if not ordered:
            return {}, []
        dialect = self.storage.dialect
        where = [table.c[column] == value for column, value in attribute.where.items()]
        for condition in (self.compiler.type_filter(target, table), self.compiler.visible(target, table)):
            if condition is not None:
                where.append(condition)
        if attribute.recursive is not None:
            chain = self.compiler.chains(owner, attribute, ordered)
            source = chain.join(table, table.c[target.primary_key[0]] == chain.c.id)
            statement = sa.select(*columns, chain.c.root.label("__parent__")).select_from(source).where(*where)
            # Ancestors read from the top down, as a path does; descendants level by level.
            depth = chain.c.depth.desc() if attribute.direction == "up" else chain.c.depth.asc()
            return _rows(connection.execute(statement.order_by(depth, *(table.c[k] for k in target.primary_key))))
        order = [table.c[k] for k in target.primary_key]
        if attribute.through is not None:
            link = self.storage.table(self.schema[attribute.through.type]).alias()
            parent = link.c[attribute.through.local]
            source = table.join(link, link.c[attribute.through.remote] == table.c[target.primary_key[0]])
            statement = sa.select(*columns, parent.label("__parent__")).select_from(source)
            where.append(dialect.in_values(parent, ordered))
            if "sort" in link.c:  # a workflow's statuses, a schema's types: in the order the link gives
                order.insert(0, link.c.sort)
        else:
            parent = table.c[attribute.via[0]]
            statement = sa.select(*columns, parent.label("__parent__"))
            where.append(dialect.in_values(parent, ordered))
        statement = statement.where(*where).order_by(*order)
        return _rows(connection.execute(statement))

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


def _rows(result: sa.CursorResult[Any]) -> tuple[Index, list[Row]]:
    """Every row of a result, and where each column is in a row."""
    index = {name: position for position, name in enumerate(result.keys())}
    return index, result.fetchall()  # type: ignore[return-value]


def _getter(positions: list[int]) -> Callable[[Row], tuple[Any, ...]]:
    """A function giving the values at ``positions`` of a row, as a tuple however many there are."""
    if len(positions) > 1:
        return operator.itemgetter(*positions)  # type: ignore[return-value]
    if positions:
        position = positions[0]
        return lambda row: (row[position],)
    return lambda row: ()


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
