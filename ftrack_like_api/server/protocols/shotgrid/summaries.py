"""``summarize``: ShotGrid's summaries and groupings as grouped queries of the engine.

Each summary is an aggregate of our query language (``record_count`` is ``count(id)``,
``sum`` ``sum(attr)``, ``maximum`` ``max(attr)`` …), each grouping level one ``group by``
(``exact`` groupings only): the database computes every number, one query per level (a grouping by a
field kept in metadata: one query for its stored values, then one per value) — but for
fields kept in metadata (``Shot.sg_cut_duration``), whose values are text under a key: one more
query a level reads them, and they are summed here (numbers as numbers; what is not a number
is left out of sums, averages, minimums and maximums, counted by ``count``). The answer is
ShotGrid's::

    {"summaries": {"id": 15}, "groups": [{"group_name": "sq010", "group_value": {"type": "Sequence", "id": 4,
     "name": "sq010"}, "summaries": {"id": 9}, "groups": [...]}, ...]}
"""

from __future__ import annotations

from typing import Any, Callable

from ....exceptions import ValidationError
from ....query import ast, render
from .mapping import Field, Mapping, SgType
from .records import _typed, entity_mentions

__all__ = ["Summaries"]

#: ShotGrid's summary types and the aggregate of ours each is.
FUNCTIONS = {"record_count": "count", "count": "count", "sum": "sum", "maximum": "max", "minimum": "min",
             "average": "avg"}  # fmt: skip
#: Projected by every grouped query: how many entities a group holds.
_COUNTED = ast.Aggregate("count", ast.Path.of("id"))


class Summaries:
    """Compiles and answers one ``summarize``; ``query(text)`` runs a query of ours, ``link(uuids, field)`` names links."""

    def __init__(self, mapping: Mapping, query: Callable[[str], list[dict[str, Any]]],
                 links: Callable[[Field, list[str]], dict[str, Any]]) -> None:  # fmt: skip
        self.mapping, self.query, self.links = mapping, query, links

    def summarize(self, sg_type: SgType, where: ast.Expression | None, summaries: Any, grouping: Any) -> dict[str, Any]:
        self.sg_type = sg_type
        aggregates = [self._aggregate(sg_type, s) for s in _list(summaries, "summaries")]
        groupings = _list(grouping or [], "grouping")
        levels = [self._grouping(sg_type, g) for g in groupings]
        total = self._rows(sg_type, where, aggregates, [])
        answer: dict[str, Any] = {"summaries": self._values(aggregates, total[0] if total else {}), "groups": []}
        if not levels:
            return answer
        tree: dict[tuple[Any, ...], dict[str, Any]] = {}
        for depth in range(1, len(levels) + 1):
            rows = self._rows(sg_type, where, aggregates, levels[:depth])
            named = {level.name: self._names(level, rows) for level in levels[:depth]}
            for row in rows:
                path = tuple(_key(level, row) for level in levels[:depth])
                siblings = tree[path[:-1]]["groups"] if depth > 1 else answer["groups"]
                level = levels[depth - 1]
                value, name = named[level.name].get(_key(level, row), (None, None))
                group = {"group_name": name, "group_value": value, "summaries": self._values(aggregates, row)}
                if depth < len(levels):
                    group["groups"] = []
                siblings.append(group)
                tree[path] = group
        _sort(answer["groups"], [g.get("direction") == "desc" for g in groupings])
        return answer

    def _aggregate(self, sg_type: SgType, summary: Any) -> tuple[str, ast.Aggregate]:
        if not isinstance(summary, dict) or not isinstance(summary.get("field"), str):
            raise ValidationError(f"A summary is {{'field', 'type'}}, not {summary!r}", "bad_summary")
        kind = summary.get("type")
        function = FUNCTIONS.get(kind)  # type: ignore[arg-type]
        if function is None:
            raise ValidationError(f"The summary type {kind!r} is not served here (one of {', '.join(FUNCTIONS)})", "bad_summary")
        field = sg_type.field(summary["field"])
        if kind == "record_count":
            return field.name, ast.Aggregate("count", ast.Path.of("id"))
        if field.kind == "metadata":  # summed here from the values a query reads (see the module's docstring)
            return field.name, ast.Aggregate(function, ast.Path.of(f"metadata.{field.key}"))
        return field.name, ast.Aggregate(function, ast.Path.of(_path(sg_type, field, "summarized")))

    def _grouping(self, sg_type: SgType, grouping: Any) -> Field:
        if not isinstance(grouping, dict) or not isinstance(grouping.get("field"), str):
            raise ValidationError(f"A grouping is {{'field', 'type', 'direction'}}, not {grouping!r}", "bad_grouping")
        if grouping.get("type", "exact") != "exact":
            raise ValidationError(f"Only 'exact' groupings are served here, not {grouping.get('type')!r}", "bad_grouping")
        field = sg_type.field(grouping["field"])
        if field.kind == "metadata" and field.data_type not in ("checkbox", "tag_list"):
            return field  # grouped by its stored values (see _by_kept)
        _path(sg_type, field, "grouped by")
        return field

    def _rows(self, sg_type: SgType, where: ast.Expression | None, aggregates: list[tuple[str, ast.Aggregate]],
              levels: list[Field]) -> list[dict[str, Any]]:  # fmt: skip
        by_kept = next((i for i, level in enumerate(levels) if level.kind == "metadata"), None)
        if by_kept is not None:
            return self._by_kept(sg_type, where, aggregates, levels, by_kept)
        groups = [ast.Path.of(p) for level in levels for p in _group_paths(level)]
        kept = {name: (field, a) for name, a in aggregates if (field := sg_type.fields[name]).kind == "metadata"}
        ours = [a for name, a in aggregates if name not in kept]
        projections = tuple(dict.fromkeys([*ours, _COUNTED]))
        query = ast.Query(sg_type.ours, (*projections, *groups), where, group_by=tuple(groups),
                          order_by=tuple(ast.OrderKey(p) for p in groups))  # fmt: skip
        rows = self.query(render(query))
        if kept:
            self._kept(sg_type, where, kept, levels, rows)
        return rows

    def _by_kept(self, sg_type: SgType, where: ast.Expression | None, aggregates: list[tuple[str, ast.Aggregate]],
                 levels: list[Field], index: int) -> list[dict[str, Any]]:  # fmt: skip
        """The rows of ``levels`` when the one at ``index`` is a field kept in metadata: one query finds the values
        stored under its key among the entities found; then each value's groups (and those of the entities with
        none) are queried as if the filters asked for that value — the database computes every number."""
        level = levels[index]
        keyed = _is(ast.Path.of("key"), level.key)
        found = ast.Membership(ast.Path.of("parent_id"), ast.Subquery(ast.Path.of("id"), sg_type.ours, where))
        value = ast.Path.of("value")
        stored = self.query(render(ast.Query("Metadata", (value,), ast.And((keyed, found)), group_by=(value,))))
        texts = sorted({row["value"] for row in stored if row.get("value") is not None})
        rest = levels[:index] + levels[index + 1:]
        rows: list[dict[str, Any]] = []
        for text in [*texts, None]:
            has = ast.Relation(ast.Path.of("metadata"), ast.Quantifier.ANY,
                               keyed if text is None else ast.And((keyed, _is(value, text))))  # fmt: skip
            narrowed = ast.Not(has) if text is None else has
            for row in self._rows(sg_type, narrowed if where is None else ast.And((where, narrowed)), aggregates, rest):
                if row.get(_COUNTED.key):  # a group of no entity (none lacks the value) is no group
                    rows.append({**row, _group_paths(level)[0]: _typed(level, text)})
        return rows

    def _kept(self, sg_type: SgType, where: ast.Expression | None, kept: dict[str, tuple[Field, ast.Aggregate]],
              levels: list[Field], rows: list[dict[str, Any]]) -> None:  # fmt: skip
        """Each group's aggregates of fields kept in metadata, set in ``rows`` (one query reads their values)."""
        paths = dict.fromkeys(["id", *(p for level in levels for p in _group_paths(level)), "metadata.key", "metadata.value"])
        read = self.query(render(ast.Query(sg_type.ours, tuple(ast.Path.of(p) for p in paths), where)))
        values: dict[tuple[Any, ...], dict[str, list[Any]]] = {}
        known = _entities(read)
        for row in read:
            stored = {m.get("key"): m.get("value") for m in row.get("metadata") or () if isinstance(m, dict)}
            group = values.setdefault(tuple(_at(row, _group_paths(level)[0], known) for level in levels), {})
            for name, (field, _) in kept.items():
                if stored.get(field.key) is not None:
                    group.setdefault(name, []).append(_typed(field, stored[field.key]))
        for row in rows:
            group = values.get(tuple(_key(level, row) for level in levels), {})
            for name, (_, aggregate) in kept.items():
                row[aggregate.key] = _aggregated(aggregate.function, group.get(name, []))

    def _names(self, level: Field, rows: list[dict[str, Any]]) -> dict[Any, tuple[Any, Any]]:
        """Each group's (group_value, group_name), by its key in the rows."""
        if level.kind == "entity":
            links = self.links(level, [r[f"{level.attr}.id"] for r in rows if r.get(f"{level.attr}.id") is not None])
            return {key: (links.get(key), (links.get(key) or {}).get("name")) for key in {_key(level, r) for r in rows}}
        if level.kind == "id":  # each entity its own group: named by its integer id
            itself = Field(name="id", kind="entity", attr="id", types=(self.sg_type.name,))
            links = self.links(itself, [r["id"] for r in rows if r.get("id") is not None])
            return {key: ((links.get(key) or {}).get("id"), str((links.get(key) or {}).get("id"))) for key in links}
        found: dict[Any, tuple[Any, Any]] = {}
        for row in rows:
            value: Any = row.get(_group_paths(level)[0])
            if level.kind == "status":
                code = self.mapping.status_codes.get(value, value)
                found[value] = (code, code)  # ShotGrid names a status group by its code
            elif level.values:
                code = next((c for c, ours in level.values.items() if ours == value), None)
                found[value] = (code, code)
            else:
                found[value] = (value, value)
        return found

    @staticmethod
    def _values(aggregates: list[tuple[str, ast.Aggregate]], row: dict[str, Any]) -> dict[str, Any]:
        return {name: row.get(aggregate.key) for name, aggregate in aggregates}


def _is(path: ast.Path, value: Any) -> ast.Expression:
    return ast.Comparison(path, ast.Operator.IS, ast.Literal(value))


def _path(sg_type: SgType, field: Field, what: str) -> str:
    if field.kind == "id":
        return "id"
    if field.kind == "status":
        return "status.name"
    if field.kind == "entity":
        return f"{field.attr}.id"
    if field.kind == "named":
        return f"{field.attr}.name"
    if field.kind == "scalar":
        return field.attr  # type: ignore[return-value]
    raise ValidationError(f"{sg_type.name}.{field.name} cannot be {what} here (a {field.kind} field)", "bad_summary")


def _group_paths(level: Field) -> list[str]:
    if level.kind == "metadata":  # a key of the rows _by_kept makes (no path of ours)
        return [f"metadata.{level.key}"]
    if level.kind == "id":
        return ["id"]
    if level.kind == "entity":
        return [f"{level.attr}.id"]
    if level.kind == "status":
        return ["status.name"]
    if level.kind == "named":
        return [f"{level.attr}.name"]
    return [level.attr]  # type: ignore[list-item]


def _sort(groups: list[dict[str, Any]], descending: list[bool]) -> None:
    """Groups in the order of their names (ascending unless the grouping says ``desc``), level by level."""
    groups.sort(key=_order, reverse=descending[0])
    for group in groups:
        if "groups" in group:
            _sort(group["groups"], descending[1:])


def _order(group: dict[str, Any]) -> tuple[Any, ...]:
    """Numbers by value, then names as text, the group of none last."""
    name = group["group_name"]
    number = isinstance(name, (int, float)) and not isinstance(name, bool)
    return name is None, not number, name if number else 0, "" if number else str(name)


def _key(level: Field, row: dict[str, Any]) -> Any:
    return row.get(_group_paths(level)[0])


def _entities(rows: list[dict[str, Any]]) -> dict[tuple[Any, Any], dict[str, Any]]:
    """Every linked entity in ``rows`` by (type, id), what each mention of it gives merged (an answer spells
    an entity out once; later mentions of it carry its id)."""
    known: dict[tuple[Any, Any], dict[str, Any]] = {}
    for value in entity_mentions(rows):
        known.setdefault((value["__entity_type__"], value["id"]), {}).update(value)
    return known


def _at(row: dict[str, Any], dotted: str, known: dict[tuple[Any, Any], dict[str, Any]]) -> Any:
    """The value at ``status.name`` in a row read whole (not grouped), through the entities it links."""
    value: Any = row
    for name in dotted.split("."):
        if not isinstance(value, dict):
            return None
        if "__entity_type__" in value and "id" in value:
            value = known.get((value["__entity_type__"], value["id"]), value)
        value = value.get(name)
    return value


def _aggregated(function: str, values: list[Any]) -> Any:
    """``count``, ``sum``, ``max``, ``min`` or ``avg`` of a group's stored values, as the database gives them."""
    if function == "count":
        return len(values)
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return None
    if function == "sum":
        return sum(numbers)
    if function == "avg":
        return sum(numbers) / len(numbers)
    return max(numbers) if function == "max" else min(numbers)


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(f"{what} is a list, not {value!r}", "bad_summary")
    return value
