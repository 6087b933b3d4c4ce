"""meshQL's syntax tree compiled to one SQL statement over the item and edge relations.

A step of an itinerary walks edges from the frontier (the start items, or the items the
step before reached): one hop is a join; ``depth`` hops a recursive CTE bounded by the
depth. ``path.vertices[*].type NONE == 'User'`` (and ``ALL``) holds of every item a walk
passes, so it is applied inside the walk. A sub-traversal in a filter is an ``EXISTS`` over
the chains of 1 to ``depth`` hops from the item. Comparisons follow AQL: a missing value is
null; ``!=`` is true of null; null sorts first. Nothing is evaluated in Python.

Constructs outside the subset raise :class:`.MeshqlError` naming them.
"""

from __future__ import annotations

import json

from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from ....engine.dialects import Dialect
from ..relations import Relations
from . import ast
from .grammar import MeshqlError
from .values import JsonValues

__all__ = ["EDGE", "ITEM", "MAX_SUB_DEPTH", "MeshqlCompiler"]

#: The columns of an answer's item and edge, prefixed.
ITEM, EDGE = "i_", "e_"
#: The deepest sub-traversal in a filter (each depth is one more chain of joins).
MAX_SUB_DEPTH = 10
_EDGE_COLUMNS = ("key", "type", "from_key", "to_key", "data")
_TEXT_FIELDS = {"_key": "key", "type": "type"}


class _Walk:
    """Where a filter reads its item and edge: the relation of items and the edge's columns (None: no edge)."""

    def __init__(self, item: Any, edge: dict[str, Any] | None) -> None:
        self.item, self.edge = item, edge


class MeshqlCompiler:
    """Compile parsed meshQL into a select (see the module's text) for one database."""

    def __init__(self, relations: Relations, dialect: Dialect) -> None:
        self.relations, self.dialect = relations, dialect
        self.values = JsonValues(dialect.name)
        self.columns = set(relations.mapping.columns)

    def select(self, query: ast.Query, aliases: dict[str, Any], principal: Any, starts: Sequence[str] | None,
               per_origin: bool = False) -> sa.Select[Any]:  # fmt: skip
        """The rows of ``query`` from ``starts`` (None: every item): ``origin``, the item's and the edge's columns."""
        self.aliases, self.principal = aliases, principal
        frontier: Any = None
        if starts is not None:
            frontier = self._starts(list(starts))
        rows: Any = None
        for index, step in enumerate(query.steps):
            if step.direction is None and index > 0:
                raise MeshqlError("Only the first step of an itinerary may have no edge step", None)
            last = index == len(query.steps) - 1
            rows = self._step(step, frontier, list(starts) if starts is not None and index == 0 else None)
            if not last:
                frontier = rows.subquery()
                frontier = sa.select(frontier.c.origin, frontier.c[ITEM + "key"].label("key")).subquery()
        assert rows is not None
        return self._finish(rows, query, per_origin)

    # --- steps --------------------------------------------------------------------------------

    def _starts(self, starts: list[str]) -> Any:
        """The start keys as a relation (``origin``, ``key``), bound as one value: items the caller may see (a traversal's
        start is read first, a nested query's are the rows' items), so not looked up in every table of items again."""
        if self.dialect.name == "postgresql":
            found: Any = sa.func.unnest(sa.bindparam(None, starts, type_=postgresql.ARRAY(sa.Text))).table_valued("value").render_derived()
        else:
            found = sa.func.json_each(sa.bindparam(None, json.dumps(starts))).table_valued("value")
        return sa.select(found.c.value.label("origin"), found.c.value.label("key")).subquery()

    def _items(self, types: frozenset[str] | None = None) -> Any:
        return self.relations.items(self.principal, types)

    def _types(self, where: ast.Expr | None) -> frozenset[str] | None:
        """The item types a filter allows at most (``$Shot``, ``item.type IN [...]`` ANDed at its top); None: any."""
        parts = list(where.items) if isinstance(where, ast.And) else [where]
        allowed: frozenset[str] | None = None
        for part in parts:
            named: frozenset[str] | None = None
            if isinstance(part, ast.TypeIs):
                named = frozenset([part.name])
            elif isinstance(part, ast.Or) and all(isinstance(p, ast.TypeIs) for p in part.items):
                named = frozenset(p.name for p in part.items)  # type: ignore[union-attr]
            elif isinstance(part, ast.Compare) and part.path == ("item", "type") and part.op in ("==", "IN"):
                value = self._value(part)
                values = value if isinstance(value, list) else [value]
                if all(isinstance(v, str) for v in values):
                    named = frozenset(values)
            if named is not None:
                allowed = named if allowed is None else allowed & named
        return allowed

    def _step(self, step: ast.Step, frontier: Any, starts: list[str] | None = None) -> sa.Select[Any]:
        item = self._items(self._types(step.where))
        if step.direction is None:
            where = self._where(step.where, _Walk(item, None))
            if frontier is None:
                return sa.select(sa.null().label("origin"), *self._item_columns(item), *self._no_edge()).where(where)
            return (sa.select(frontier.c.origin, *self._item_columns(item), *self._no_edge())
                    .join_from(frontier, item, item.c.key == frontier.c.key).where(where))  # fmt: skip
        if frontier is None:
            everything = self._items()
            frontier = sa.select(everything.c.key.label("origin"), everything.c.key.label("key")).subquery()
        along, rest = self._along(step.where)
        walk = self._walk(step, frontier, along, starts)
        edge = {name: walk.c[EDGE + name] for name in _EDGE_COLUMNS}
        where = self._where(rest, _Walk(item, edge))
        return (sa.select(walk.c.origin, *self._item_columns(item), *(c.label(EDGE + n) for n, c in edge.items()))
                .join_from(walk, item, item.c.key == walk.c.key).where(where))  # fmt: skip

    def _walk(self, step: ast.Step, frontier: Any, along: list[ast.Compare], starts: list[str] | None) -> Any:
        """The (origin, key, edge columns, depth) reached from ``frontier`` in 1 to ``step.depth`` hops.

        From known ``starts``, the first hop also says so as constants: the database then reads
        only those items' edges (each branch of the edge relation by its index), not every edge.
        """

        reach = self._types(step.where)  # the walk reads only the edges on a path to those types

        def hop(source: Any, origin: Any, current: Any, depth: Any, known: list[str] | None = None) -> sa.Select[Any]:
            edges = self.relations.edges(step.types, reach)
            condition, next_key = self._hop(step, edges, current)
            if known is not None:
                ends = {"out": [edges.c.from_key], "in": [edges.c.to_key]}.get(step.direction or "", [edges.c.from_key, edges.c.to_key])
                condition = sa.and_(condition, sa.or_(*(self.dialect.in_values(end, known) for end in ends)))
            select = sa.select(origin.label("origin"), next_key.label("key"), *(edges.c[n].label(EDGE + n) for n in _EDGE_COLUMNS),
                               depth.label("depth")).select_from(source).join(edges, condition)  # fmt: skip
            if along:
                passed = self._items()
                select = select.join(passed, passed.c.key == next_key).where(*(self._along_one(c, passed) for c in along))
            return select

        anchor = hop(frontier, frontier.c.origin, frontier.c.key, sa.literal(1), starts)
        if step.depth <= 1:
            return anchor.subquery()
        walk = anchor.cte(recursive=True)
        deeper = hop(walk, walk.c.origin, walk.c.key, walk.c.depth + 1).where(walk.c.depth < step.depth)
        return walk.union_all(deeper)

    def _hop(self, step: ast.Step, edges: Any, current: Any) -> tuple[Any, Any]:
        # One type as "=": SQLite then indexes the edges it reads for the join (not for "IN").
        typed = (edges.c.type == step.types[0] if len(step.types) == 1 else edges.c.type.in_(step.types)) if step.types else sa.true()
        if step.direction == "out":
            return sa.and_(edges.c.from_key == current, typed), edges.c.to_key
        if step.direction == "in":
            return sa.and_(edges.c.to_key == current, typed), edges.c.from_key
        return (sa.and_(sa.or_(edges.c.from_key == current, edges.c.to_key == current), typed),
                sa.case((edges.c.from_key == current, edges.c.to_key), else_=edges.c.from_key))  # fmt: skip

    def _along(self, where: ast.Expr | None) -> tuple[list[ast.Compare], ast.Expr | None]:
        """The ``path.vertices`` conditions ANDed at the top of a step's filter, and the rest of it."""
        parts = list(where.items) if isinstance(where, ast.And) else ([where] if where is not None else [])
        along = [p for p in parts if isinstance(p, ast.Compare) and p.path[0] == "path"]
        rest = [p for p in parts if p not in along]
        return along, (None if not rest else rest[0] if len(rest) == 1 else ast.And(tuple(rest)))

    def _along_one(self, compare: ast.Compare, item: Any) -> Any:
        if compare.path[:2] != ("path", "vertices[*]") or len(compare.path) < 3 or compare.quantifier not in ("NONE", "ALL"):
            raise MeshqlError("path.… is served as 'path.vertices[*].<field> NONE|ALL <op> <value>' only", None)
        test = self._compare(ast.Compare(("item", *compare.path[2:]), compare.op, compare.value), _Walk(item, None))
        return sa.not_(sa.func.coalesce(test, sa.false())) if compare.quantifier == "NONE" else sa.func.coalesce(test, sa.false())

    # --- filters ------------------------------------------------------------------------------

    def _where(self, expr: ast.Expr | None, at: _Walk) -> Any:
        if expr is None or isinstance(expr, ast.All):
            return sa.true()
        if isinstance(expr, ast.TypeIs):
            return at.item.c.type == expr.name
        if isinstance(expr, ast.And):
            return sa.and_(*(self._where(e, at) for e in expr.items))
        if isinstance(expr, ast.Or):
            return sa.or_(*(self._where(e, at) for e in expr.items))
        if isinstance(expr, ast.Not):
            return sa.not_(sa.func.coalesce(self._where(expr.item, at), sa.false()))
        if isinstance(expr, ast.Exists):
            return self._exists(expr.step, at.item.c.key)
        if isinstance(expr, ast.Compare):
            if expr.path[0] == "path":
                raise MeshqlError("path.vertices[*] filters are served at the top of a step's filter, joined by AND", None)
            return sa.func.coalesce(self._compare(expr, at), sa.false())
        raise MeshqlError(f"{type(expr).__name__} is not served", None)

    def _exists(self, step: ast.Step, start: Any) -> Any:
        """Whether a chain of 1 to ``step.depth`` hops from ``start`` ends on an item passing the step's filter."""
        if step.depth > MAX_SUB_DEPTH:
            raise MeshqlError(f"A sub-traversal in a filter goes at most {MAX_SUB_DEPTH} edges deep here, not {step.depth}", None)
        along, rest = self._along(step.where)
        chains = []
        # Any item will do (``*``): its key is enough — and for a caller who sees every item, the edge is (an edge's ends
        # exist: our relations' by their keys, a kept edge's as long as its ends, cleanup.py).
        bare = not along and (rest is None or isinstance(rest, ast.All))
        everyone = self.principal is None or self.principal.readable is None
        for length in range(1, step.depth + 1):
            current, select, item, edges = start, None, None, None
            for hop in range(length):
                last = hop == length - 1
                edges = self.relations.edges(step.types)
                condition, next_key = self._hop(step, edges, current)
                if bare and last and everyone:
                    select = sa.select(sa.literal(1)).select_from(edges).where(condition) if select is None else \
                        select.join(edges, sa.true()).where(condition)
                    continue
                item = self.relations.keys(self.principal) if bare and last else self._items(self._types(rest) if last else None)
                joined = sa.and_(condition, item.c.key == next_key, *(self._along_one(c, item) for c in along))
                select = (sa.select(sa.literal(1)).select_from(edges).join(item, sa.true()).where(joined) if select is None
                          else select.join(edges, sa.true()).join(item, sa.true()).where(joined))  # fmt: skip
                current = item.c.key
            assert select is not None and edges is not None
            if bare:
                chains.append(sa.exists(select))
                continue
            at = _Walk(item, {name: edges.c[name] for name in _EDGE_COLUMNS})
            chains.append(sa.exists(select.where(self._where(rest, at))))
        return sa.or_(*chains)

    def _compare(self, compare: ast.Compare, at: _Walk) -> Any:
        value = self._value(compare)
        expression, text = self._path(compare.path, at, like=compare.op in ("LIKE", "NOT LIKE"))
        literal = (lambda v: sa.literal(v)) if text else self.values.literal
        op = compare.op
        if op in ("IN", "NOT IN"):
            if not isinstance(value, list):
                raise MeshqlError(f"{op} takes a list, not {value!r}", None)
            found = expression.in_([literal(v) for v in value if v is not None]) if any(v is not None for v in value) else sa.false()
            if None in value:
                found = sa.or_(found, expression.is_(None))
            return sa.not_(sa.func.coalesce(found, sa.false())) if op == "NOT IN" else found
        if op in ("LIKE", "NOT LIKE"):
            found = sa.func.coalesce(expression.like(sa.literal(str(value))), sa.false())
            return sa.not_(found) if op == "NOT LIKE" else found
        if value is None:
            if op == "==":
                return expression.is_(None)
            if op == "!=":
                return expression.is_not(None)
            return {"<": sa.false(), "<=": expression.is_(None), ">": expression.is_not(None), ">=": sa.true()}[op]
        bound = literal(value)
        if op == "==":
            return expression == bound
        if op == "!=":
            return expression.is_distinct_from(bound)
        if op in ("<", "<="):  # null is the least of AQL's values
            return sa.or_(expression.is_(None), expression < bound if op == "<" else expression <= bound)
        return expression > bound if op == ">" else expression >= bound

    def _value(self, compare: ast.Compare) -> Any:
        if compare.value.alias is None:
            return compare.value.literal
        if compare.value.alias not in self.aliases:
            raise MeshqlError(f"@{compare.value.alias}: no alias {compare.value.alias!r} was given", None)
        return self.aliases[compare.value.alias]

    def _path(self, path: tuple[str, ...], at: _Walk, like: bool = False) -> tuple[Any, bool]:
        """The SQL of ``item.…`` or ``edge.…``, and whether it is text (else a data value)."""
        root, rest = path[0], path[1:]
        read = self.values.text if like else self.values.read
        if root == "item":
            item = at.item.c
            if len(rest) == 1 and rest[0] in _TEXT_FIELDS:
                return item[_TEXT_FIELDS[rest[0]]], True
            if len(rest) == 1 and rest[0] == "_id":
                return sa.literal("items/") + item.key, True
            if len(rest) >= 2 and rest[0] == "data":
                column = item[rest[1]] if len(rest) == 2 and rest[1] in self.columns else None
                return read(item.extra, rest[1:], column), like
        elif root == "edge":
            if at.edge is None:
                raise MeshqlError(f"{'.'.join(path)}: this step has no edge", None)
            if len(rest) == 1 and rest[0] in ("_key", "type"):
                return at.edge["key" if rest[0] == "_key" else "type"], True
            if len(rest) == 1 and rest[0] in ("_from", "_to"):
                return sa.literal("items/") + at.edge["from_key" if rest[0] == "_from" else "to_key"], True
            if len(rest) >= 2 and rest[0] == "data":
                return read(at.edge["data"], rest[1:]), like
        raise MeshqlError(f"{'.'.join(path)} is not served in meshQL here (item._key, item._id, item.type, item.data.…, "
                          "edge._key, edge.type, edge._from, edge._to, edge.data.…)", None)  # fmt: skip

    # --- answer -------------------------------------------------------------------------------

    def _item_columns(self, item: Any) -> list[Any]:
        return [item.c[name].label(ITEM + name) for name in item.c.keys() if name != "project"]

    def _no_edge(self) -> list[Any]:
        return [sa.null().label(EDGE + name) for name in _EDGE_COLUMNS]

    def _finish(self, rows: sa.Select[Any], query: ast.Query, per_origin: bool) -> sa.Select[Any]:
        step = query.steps[-1]
        found = rows.subquery()
        order = self._order(query, found)
        if query.unique:
            ranked = sa.select(found, sa.func.row_number().over(partition_by=[found.c.origin, found.c[ITEM + "key"]],
                                                                  order_by=order or None).label("copy")).subquery()  # fmt: skip
            found = sa.select(*(ranked.c[c] for c in found.c.keys())).where(ranked.c.copy == 1).subquery()
            order = self._order(query, found)
        if per_origin and (step.offset or step.limit):
            ranked = sa.select(found, sa.func.row_number().over(partition_by=found.c.origin, order_by=order or None)
                               .label("place")).subquery()  # fmt: skip
            select = sa.select(*(ranked.c[c] for c in found.c.keys())).where(ranked.c.place > step.offset)
            if step.limit:
                select = select.where(ranked.c.place <= step.offset + step.limit)
            return select.order_by(ranked.c.origin, ranked.c.place)
        select = sa.select(found).order_by(*order)
        if step.offset:
            select = select.offset(step.offset)
        if step.limit:
            select = select.limit(step.limit)
        return select

    def _order(self, query: ast.Query, found: Any) -> list[Any]:
        keys = query.sort if query.sort is not None else ((("item", "data", "name"), False),)
        item = _Prefixed(found, ITEM)
        edge = {name: found.c[EDGE + name] for name in _EDGE_COLUMNS}
        order = []
        for path, descending in keys:
            if path[0] == "edge" and path[1:] in (("createdAt",), ("updatedAt",)):
                expression: Any = found.c[EDGE + "key"]  # edges keep no times here: in the order they were keyed
            elif path[0] == "item" and path[1:] in (("createdAt",), ("updatedAt",)):
                expression = found.c[ITEM + ("created_at" if path[1] == "createdAt" else "updated_at")]
            else:
                expression = self._path(path, _Walk(item, edge))[0]
            order.append(expression.desc().nulls_last() if descending else expression.asc().nulls_first())
        return order


class _Prefixed:
    """An answer's item columns read as an item relation's (``.c.key`` is ``i_key``)."""

    def __init__(self, found: Any, prefix: str) -> None:
        self.c = _Columns(found, prefix)


class _Columns:
    def __init__(self, found: Any, prefix: str) -> None:
        self._found, self._prefix = found, prefix

    def __getitem__(self, name: str) -> Any:
        return self._found.c[self._prefix + name]

    def __getattr__(self, name: str) -> Any:
        return self[name]
