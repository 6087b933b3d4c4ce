"""meshQL queries run: parsed, compiled to SQL (:mod:`.meshql`), answered in the VIEW asked.

A VIEW's nested query (``tasks: '# -($Child)> $Task VIEW item'``) is one more statement
for all the rows at once (its start items bound as a list, its offset and limit per row),
never one per row.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Sequence

from ...engine.batch import BatchContext
from .mapping import Mapping
from .meshql import ast
from .meshql.compiler import EDGE, ITEM, MeshqlCompiler
from .meshql.grammar import MeshqlError, parse
from .relations import Relations
from .shapes import edge_of, item_of

__all__ = ["Queries"]

log = logging.getLogger(__name__)

#: What a query answers without a VIEW: the item; and a traversal: the item and the edge that led to it.
QUERY_VIEW = ast.PathView(("item",))
#: How many built statements of queries over every item are kept.
BUILT = 256
TRAVERSE_VIEW = ast.ViewObject((("item", ast.PathView(("item",))), ("edge", ast.PathView(("edge",)))))


class Queries:
    """meshQL over one backend."""

    def __init__(self, backend: Any, mapping: Mapping, relations: Relations) -> None:
        self.mapping = mapping
        self.compiler = MeshqlCompiler(relations, backend.storage.dialect)
        self._built: dict[tuple[Any, ...], Any] = {}

    def run(self, batch: BatchContext, text: Any, aliases: Any, start: str | None) -> list[Any]:
        """The answers of ``text`` (from the item ``start``, or over every item)."""
        if aliases is None:
            aliases = {}
        if not isinstance(aliases, dict):
            raise MeshqlError("aliases is an object of names to values", str(text))
        query = parse(text, aliases)
        log.debug("meshQL %s aliases=%r", text, aliases)
        default = TRAVERSE_VIEW if start is not None else QUERY_VIEW
        try:
            rows = self._rows(batch, query, aliases, [start] if start is not None else None, per_origin=False)
            return self._views(batch, query.view or default, rows, aliases)
        except MeshqlError as error:
            if error.text is None:  # raised while compiling: name the query it was in
                raise MeshqlError(error.reason, str(text)) from None
            raise

    def _rows(self, batch: BatchContext, query: ast.Query, aliases: dict[str, Any], starts: Sequence[str] | None,
              per_origin: bool) -> list[dict[str, Any]]:  # fmt: skip
        if starts is None:  # the same statement for the same query, aliases and readable projects: built once
            key = (repr(query), json.dumps(aliases, sort_keys=True, default=str), batch.principal.readable, per_origin)
            select = self._built.get(key)
            if select is None:
                select = self.compiler.select(query, aliases, batch.principal, starts, per_origin)
                if len(self._built) >= BUILT:
                    self._built.clear()
                self._built[key] = select
        else:
            select = self.compiler.select(query, aliases, batch.principal, starts, per_origin)
        answered = []
        for row in batch.connection.execute(select).mappings():
            answered.append({"origin": row["origin"], "item": item_of(row, self.mapping.columns, ITEM), "edge": edge_of(row, EDGE)})
        return answered

    def _views(self, batch: BatchContext, view: ast.View, rows: list[dict[str, Any]], aliases: dict[str, Any]) -> list[Any]:
        if isinstance(view, ast.PathView):
            return [_pick(row, view.path) for row in rows]
        if isinstance(view, ast.Nested):
            return self._nested(batch, view, rows, aliases)
        columns = {name: self._views(batch, field, rows, aliases) for name, field in view.fields}
        return [{name: values[index] for name, values in columns.items()} for index in range(len(rows))]

    def _nested(self, batch: BatchContext, view: ast.Nested, rows: list[dict[str, Any]], aliases: dict[str, Any]) -> list[Any]:
        """The nested query from every row's item, in one statement, answered per row."""
        starts = sorted({row["item"]["_key"] for row in rows})
        found = self._rows(batch, view.query, aliases, starts, per_origin=True) if starts else []
        answers = self._views(batch, view.query.view or QUERY_VIEW, found, aliases)
        per_start: dict[str, list[Any]] = {}
        for row, answer in zip(found, answers):
            per_start.setdefault(row["origin"], []).append(answer)
        if view.first:
            return [(per_start.get(row["item"]["_key"]) or [None])[0] for row in rows]
        return [per_start.get(row["item"]["_key"], []) for row in rows]


def _pick(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` (``item``, ``edge.data.track`` …) of a row."""
    value: Any = row.get(path[0]) if path[0] in ("item", "edge") else None
    for part in path[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    return value

