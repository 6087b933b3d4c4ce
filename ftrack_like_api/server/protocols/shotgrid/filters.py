"""ShotGrid's filters compiled to the engine's query AST: never evaluated over fetched rows.

``shotgun_api3`` sends a find's filters as
``{"logical_operator": "and"|"or", "conditions": [condition or group, …]}``, a condition being
``{"path": "sg_sequence.Sequence.code", "relation": "is", "values": [...]}``. Each becomes an
expression of :mod:`ftrack_like_api.query.ast` over our types (:mod:`.mapping`):

- a field's relation becomes comparisons (``contains`` is ``like "%x%"``, ``between`` two
  bounds, ``in_last 3 DAY`` the instants it spans, a status code our status's name)
- a deep link (``entity.Shot.sg_sequence.Sequence.code``) becomes
  ``parent.id in (select id from Shot where parent.name is …)``: the linked entity must be of
  the type named, as in ShotGrid
- an integer id becomes the entity's uuid (:mod:`.ids`); an id naming no entity matches nothing
"""

from __future__ import annotations

import datetime
from typing import Any, Callable, Sequence

from ....exceptions import ValidationError
from ....query import ast
from . import paths
from .mapping import Field, Mapping, SgType

__all__ = ["FilterCompiler", "NOTHING"]

#: A uuid no entity has: what an id that names no entity compares with.
NOTHING = "00000000-0000-0000-0000-000000000000"
_UNITS = {"HOUR": datetime.timedelta(hours=1), "DAY": datetime.timedelta(days=1), "WEEK": datetime.timedelta(weeks=1),
          "MONTH": datetime.timedelta(days=30), "YEAR": datetime.timedelta(days=365)}  # fmt: skip
_NEGATED = {"is_not": "is", "not_in": "in", "not_contains": "contains", "not_in_last": "in_last",
            "not_in_next": "in_next", "not_between": "between", "type_is_not": "type_is",
            "name_not_contains": "name_contains", "name_is_not": "name_is"}  # fmt: skip


def _lit(value: Any) -> ast.Literal:
    return ast.Literal(value)


def _is(path: ast.Path, value: Any) -> ast.Expression:
    return ast.Comparison(path, ast.Operator.IS, _lit(value))


def _all(operands: Sequence[ast.Expression]) -> ast.Expression:
    return operands[0] if len(operands) == 1 else ast.And(tuple(operands))


def _any(operands: Sequence[ast.Expression]) -> ast.Expression:
    return operands[0] if len(operands) == 1 else ast.Or(tuple(operands))


def _like(text: Any) -> str:
    if not isinstance(text, str):
        raise ValidationError(f"A text relation takes text, not {text!r}", "bad_value")
    return text


class FilterCompiler:
    """Compiles one request's filters; ``uuids(numbers)`` and ``id_range(ours, relation, bounds)`` read :mod:`.ids`."""

    def __init__(
        self,
        mapping: Mapping,
        uuids: Callable[[list[int]], dict[int, str]],
        id_range: Callable[[str, str, tuple[Any, ...]], list[str]],
        now: datetime.datetime | None = None,
        column: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.mapping, self._uuids, self._id_range = mapping, uuids, id_range
        #: ``column(ours, attr)``: the attribute of our type ``ours`` holding the key its reference ``attr`` links
        #: to (``project`` → ``project_id``), or None.
        self._column = column
        self.now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)

    # --- groups ------------------------------------------------------------------------------

    def compile(self, sg_type: SgType, filters: Any) -> ast.Expression | None:
        """The expression of a find's ``filters`` on ``sg_type`` (None: no condition)."""
        if filters in (None, [], {}):
            return None
        if isinstance(filters, list):  # a plain list, as mockgun-era callers send
            filters = {"logical_operator": "and", "conditions": filters}
        return self._group(sg_type, filters)

    def _group(self, sg_type: SgType, group: Any) -> ast.Expression | None:
        if not isinstance(group, dict) or not isinstance(group.get("conditions"), list):
            raise ValidationError(f"A filter group is {{'logical_operator', 'conditions'}}, not {group!r}", "bad_filter")
        operator = group.get("logical_operator", "and")
        if operator not in ("and", "or"):
            raise ValidationError(f"Invalid filter_operator {operator!r}: 'all' or 'any'", "bad_filter")
        parts = [self._condition(sg_type, c) if "path" in c else self._group(sg_type, c)
                 for c in group["conditions"] if isinstance(c, dict)]  # fmt: skip
        if len(parts) != len(group["conditions"]):
            raise ValidationError(f"Each filter is a condition or a group, not {group['conditions']!r}", "bad_filter")
        present = [p for p in parts if p is not None]
        if not present:
            return None
        return _all(present) if operator == "and" else _any(present)

    def _condition(self, sg_type: SgType, condition: dict[str, Any]) -> ast.Expression:
        path, relation, values = condition.get("path"), condition.get("relation"), condition.get("values", [])
        if not isinstance(path, str) or not isinstance(relation, str):
            raise ValidationError(f"A filter is [field, relation, value…], not {condition!r}", "bad_filter")
        if not isinstance(values, list):
            values = [values]
        return self.relation(sg_type, path, relation, values)

    # --- one condition -----------------------------------------------------------------------

    def relation(self, sg_type: SgType, path: str, relation: str, values: list[Any]) -> ast.Expression:
        """``path relation values`` on ``sg_type``; ``path`` may link deep (``entity.Shot.code``)."""
        name, _, rest = path.partition(".")
        field = sg_type.field(name)
        if rest:
            linked_name, _, further = rest.partition(".")
            if field.kind != "entity" or not further:
                raise ValidationError(f"{sg_type.name}.{path}: a deep link is field.Type.field", "bad_filter")
            if linked_name not in field.types:
                raise ValidationError(f"{sg_type.name}.{name} does not link to {linked_name}", "bad_filter")
            linked = self.mapping.type(linked_name)
            inner = self.relation(linked, further, relation, values)
            return ast.Membership(ast.Path.of(f"{field.attr}.id"), ast.Subquery(ast.Path.of("id"), linked.ours, linked.scoped(inner)))  # type: ignore[arg-type]
        if relation in _NEGATED:
            return ast.Not(self._positive(sg_type, field, _NEGATED[relation], values))
        return self._positive(sg_type, field, relation, values)

    def _positive(self, sg_type: SgType, field: Field, relation: str, values: list[Any]) -> ast.Expression:
        where = f"{sg_type.name}.{field.name} {relation}"
        if relation == "in":
            if not values:
                return ast.Membership(ast.Path.of("id"), ())  # 'in ()' is false
            if field.kind == "id":
                found = self._uuids([self._number(v, where) for v in values])
                return ast.Membership(ast.Path.of("id"), tuple(_lit(found.get(v, NOTHING)) for v in values))
            return _any([self._positive(sg_type, field, "is", [v]) for v in values])
        value = values[0] if values else None
        kind = field.kind
        if kind == "id":
            return self._id(sg_type, relation, values, where)
        if kind == "entity":
            return self._entity(field, relation, value, where, sg_type.ours)
        if kind == "multi_entity":
            return self._multi(field, relation, value, where)
        if kind == "note_links":
            return self._note_links(field, relation, value, where)
        if kind in ("publish", "publishes"):
            return self._published(field, relation, value, where)
        if kind == "storage":  # the LocalStorage the file lies in: is one (its location holds it), or None
            if relation != "is" or (value is not None and not (isinstance(value, dict) and "id" in value)):
                raise ValidationError(f"{where}: takes is / is_not a {{'type': 'LocalStorage', 'id'}} or None", "bad_filter")
            if value is None or value.get("type") in field.types:
                rooted = ast.Relation(ast.Path.of("location.metadata"), ast.Quantifier.ANY,
                                      ast.Membership(ast.Path.of("key"), tuple(_lit(k) for k, _ in paths.ROOTS)))  # fmt: skip
                held = rooted if value is None else _is(ast.Path.of("location_id"), self._uuid(value["id"], where))
                there = ast.Relation(ast.Path.of("component_locations"), ast.Quantifier.ANY, held)
                return ast.Not(there) if value is None else there
            return ast.Membership(ast.Path.of("id"), ())
        if kind == "full_name":
            return self._full_name(field, relation, values, where)
        if kind == "custom":  # a custom attribute of ours: a stored value (none is None)
            stored = ast.Comparison(ast.Path.of("value"), ast.Operator.IS_NOT, _lit(None))
            if relation == "is" and value is None:
                return ast.Not(ast.Relation(ast.Path.of("custom_attributes"), ast.Quantifier.ANY,
                                            ast.And((_is(ast.Path.of("key"), field.key), stored))))  # fmt: skip
            compared = self._scalar(ast.Path.of("value"), relation, values, where, None, field.data_type)
            return ast.Relation(ast.Path.of("custom_attributes"), ast.Quantifier.ANY,
                                ast.And((_is(ast.Path.of("key"), field.key), compared)))  # fmt: skip
        if kind == "grants":
            return self._grants(field, relation, value, where)
        if kind in ("password", "file", "path", "unserved"):
            raise ValidationError(f"{where}: a {kind} field is not filtered on here", "bad_filter")
        if kind == "metadata":
            return ast.Relation(ast.Path.of("metadata"), ast.Quantifier.ANY, ast.And((
                _is(ast.Path.of("key"), field.key), self._scalar(ast.Path.of("value"), relation, values, where, str))))
        if kind == "thumbnail":
            if relation != "is" or value is not None:
                raise ValidationError(f"{where}: an image is filtered by is / is_not None", "bad_filter")
            return _is(ast.Path.of(f"{field.attr}.thumbnail_id" if field.attr else "thumbnail_id"), None)
        if kind == "status":
            if relation != "is":
                raise ValidationError(f"{where}: a status list takes is, is_not, in, not_in", "bad_filter")
            if value is None:
                return _is(ast.Path.of("status_id"), None)
            return _is(ast.Path.of("status.name"), self.mapping.status_name(value))
        if kind == "named":
            return self._scalar(ast.Path.of(f"{field.attr}.name"), relation, values, where)  # type: ignore[arg-type]
        if field.values:  # a list field of fixed values (HumanUser.sg_status_list: act / dis)
            if value not in field.values:
                raise ValidationError(f"{where}: one of {', '.join(field.values)}, not {value!r}", "bad_value")
            return self._scalar(ast.Path.of(field.attr), relation, [field.values[value]], where)  # type: ignore[arg-type]
        if field.blank is not None and relation == "is" and value is None:  # a Task with no content: its blank name
            return _any([_is(ast.Path.of(field.attr), None), _is(ast.Path.of(field.attr), field.blank)])  # type: ignore[arg-type]
        return self._scalar(ast.Path.of(field.attr), relation, values, where, None, field.data_type)  # type: ignore[arg-type]

    def _scalar(self, path: ast.Path, relation: str, values: list[Any], where: str, cast: Any = None,
                data_type: str | None = None) -> ast.Expression:  # fmt: skip
        value = values[0] if values else None
        if cast is not None and value is not None and relation in ("is", "less_than", "greater_than"):
            value = cast(value)
        if relation == "is":
            return _is(path, value)
        if relation in ("less_than", "greater_than"):
            operator = ast.Operator.LESS if relation == "less_than" else ast.Operator.GREATER
            return ast.Comparison(path, operator, _lit(value))
        if relation == "between":
            if len(values) != 2:
                raise ValidationError(f"{where}: between takes two values", "bad_filter")
            return ast.And((ast.Comparison(path, ast.Operator.GREATER_OR_EQUAL, _lit(values[0])),
                            ast.Comparison(path, ast.Operator.LESS_OR_EQUAL, _lit(values[1]))))  # fmt: skip
        if relation == "contains":
            return ast.Comparison(path, ast.Operator.LIKE, _lit(f"%{_like(value)}%"))
        if relation == "starts_with":
            return ast.Comparison(path, ast.Operator.LIKE, _lit(f"{_like(value)}%"))
        if relation == "ends_with":
            return ast.Comparison(path, ast.Operator.LIKE, _lit(f"%{_like(value)}"))
        if relation in ("in_last", "in_next"):
            return self._span(path, relation, values, where, data_type)
        if relation.startswith("in_calendar_"):
            return self._calendar(path, relation[len("in_calendar_"):], value, where, data_type)
        raise ValidationError(f"{where}: the relation {relation!r} is not served here", "bad_filter")

    def _span(self, path: ast.Path, relation: str, values: list[Any], where: str, data_type: str | None) -> ast.Expression:
        if len(values) != 2 or not isinstance(values[0], int) or values[1] not in _UNITS:
            raise ValidationError(f"{where}: takes [count, one of {', '.join(_UNITS)}]", "bad_filter")
        step = _UNITS[values[1]] * values[0]
        low, high = (self.now - step, self.now) if relation == "in_last" else (self.now, self.now + step)
        return self._within(path, low, high, data_type)

    def _calendar(self, path: ast.Path, unit: str, offset: Any, where: str, data_type: str | None) -> ast.Expression:
        if not isinstance(offset, int) or unit not in ("day", "week", "month", "year"):
            raise ValidationError(f"{where}: takes a whole number of {unit}s from today", "bad_filter")
        today = self.now.date()
        if unit == "day":
            start = today + datetime.timedelta(days=offset)
            end = start + datetime.timedelta(days=1)
        elif unit == "week":
            start = today - datetime.timedelta(days=today.weekday()) + datetime.timedelta(weeks=offset)
            end = start + datetime.timedelta(weeks=1)
        elif unit == "month":
            months = today.year * 12 + today.month - 1 + offset
            start = datetime.date(months // 12, months % 12 + 1, 1)
            end = datetime.date((months + 1) // 12, (months + 1) % 12 + 1, 1)
        else:
            start, end = datetime.date(today.year + offset, 1, 1), datetime.date(today.year + offset + 1, 1, 1)
        low = datetime.datetime.combine(start, datetime.time())
        return self._within(path, low, datetime.datetime.combine(end, datetime.time()) - datetime.timedelta(seconds=1), data_type)

    def _within(self, path: ast.Path, low: datetime.datetime, high: datetime.datetime, data_type: str | None) -> ast.Expression:
        shown = (lambda d: d.date().isoformat()) if data_type == "date" else (lambda d: d.isoformat())
        return ast.And((ast.Comparison(path, ast.Operator.GREATER_OR_EQUAL, _lit(shown(low))),
                        ast.Comparison(path, ast.Operator.LESS_OR_EQUAL, _lit(shown(high)))))  # fmt: skip

    def _id(self, sg_type: SgType, relation: str, values: list[Any], where: str) -> ast.Expression:
        if relation == "is":
            return _is(ast.Path.of("id"), self._uuid(values[0] if values else None, where))
        if relation in ("greater_than", "less_than", "between"):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or not values:
                raise ValidationError(f"{where}: takes whole numbers, not {values!r}", "bad_filter")
            found = self._id_range(sg_type.ours, relation, tuple(values))
            return ast.Membership(ast.Path.of("id"), tuple(_lit(u) for u in found))
        raise ValidationError(f"{where}: the relation {relation!r} is not served for ids", "bad_filter")

    def _uuid(self, number: Any, where: str) -> str | None:
        if number is None:
            return None
        return self._uuids([self._number(number, where)]).get(number, NOTHING)

    @staticmethod
    def _number(number: Any, where: str) -> int:
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValidationError(f"{where}: an id is a whole number, not {number!r}", "bad_filter")
        return number

    def _multi(self, field: Field, relation: str, value: Any, where: str) -> ast.Expression:
        """A multi-entity field: ``is`` a link (one of its links is it), ``is`` None (it has none), ``type_is``."""
        link = f"{field.link}.id" if field.link else "id"
        if relation == "is" and value is None:
            return ast.Not(ast.Relation(ast.Path.of(field.attr), ast.Quantifier.ANY, None))  # type: ignore[arg-type]
        if relation == "is":
            if not isinstance(value, dict) or "id" not in value or "type" not in value:
                raise ValidationError(f"{where}: takes {{'type', 'id'}} or None, not {value!r}", "bad_filter")
            if value["type"] not in field.types:
                return ast.Membership(ast.Path.of("id"), ())
            key = self._uuid(value["id"], where)
            return ast.Relation(ast.Path.of(field.attr), ast.Quantifier.ANY, _is(ast.Path.of(link), key))  # type: ignore[arg-type]
        if relation == "type_is":
            linked = self.mapping.type(value)
            inner = ast.Membership(ast.Path.of(link), ast.Subquery(ast.Path.of("id"), linked.ours))
            return ast.Relation(ast.Path.of(field.attr), ast.Quantifier.ANY, inner)  # type: ignore[arg-type]
        raise ValidationError(f"{where}: the relation {relation!r} is not served for multi-entity fields", "bad_filter")

    def _note_links(self, field: Field, relation: str, value: Any, where: str) -> ast.Expression:
        """A Note's ``note_links`` (its parent, unless a project): ``is`` an entity, ``is`` None, ``type_is``."""
        linked_types = tuple(_lit(self.mapping.type(t).ours) for t in field.types)
        if relation == "is" and value is None:
            return ast.Not(ast.Membership(ast.Path.of("parent_type"), linked_types))
        if relation == "is":
            if not isinstance(value, dict) or "id" not in value or "type" not in value:
                raise ValidationError(f"{where}: takes {{'type', 'id'}} or None, not {value!r}", "bad_filter")
            if value["type"] not in field.types:
                return ast.Membership(ast.Path.of("id"), ())
            return _is(ast.Path.of("parent_id"), self._uuid(value["id"], where) or NOTHING)
        if relation == "type_is":
            if value not in field.types:
                self.mapping.type(value)  # an unknown type is an error naming it; another type, nothing
                return ast.Membership(ast.Path.of("id"), ())
            return _is(ast.Path.of("parent_type"), self.mapping.type(value).ours)
        raise ValidationError(f"{where}: the relation {relation!r} is not served for note_links", "bad_filter")

    def _published(self, field: Field, relation: str, value: Any, where: str) -> ast.Expression:
        """A link to the PublishedFile of a version (``publish``) or to those of versions (``publishes``): ``is`` one
        (a version named has it), ``is`` None (no version named has one)."""
        if relation != "is":
            raise ValidationError(f"{where}: a link to published files takes is, is_not, in, not_in", "bad_filter")
        if value is not None and (not isinstance(value, dict) or "id" not in value or "type" not in value):
            raise ValidationError(f"{where}: takes {{'type', 'id'}} or None, not {value!r}", "bad_filter")
        if value is not None and value["type"] not in field.types:
            return ast.Membership(ast.Path.of("id"), ())
        component = None if value is None else _is(ast.Path.of("id"), self._uuid(value["id"], where))
        files = ast.Relation(ast.Path.of("components"), ast.Quantifier.ANY, component)  # type: ignore[arg-type]
        if field.kind == "publish":
            found: ast.Expression = ast.Relation(ast.Path.of(f"{field.attr}.components"), ast.Quantifier.ANY, component)  # type: ignore[arg-type]
        else:  # no attr: the entity's own files (a Version's published_files)
            found = ast.Relation(ast.Path.of(field.attr), ast.Quantifier.ANY, files) if field.attr else files
        return ast.Not(found) if value is None else found

    def _grants(self, field: Field, relation: str, value: Any, where: str) -> ast.Expression:
        """The projects a user is granted (as read: each role's project rows): ``is`` a project (one of the
        user's roles grants it), ``is`` None (none is granted: a user of every project), ``type_is``."""
        attr, link = ast.Path.of(field.attr), ast.Path.of(field.link)  # type: ignore[arg-type]
        if (relation == "is" and value is None) or relation == "type_is":
            if relation == "type_is" and value not in field.types:
                self.mapping.type(value)  # an unknown type is an error naming it; another type, nothing
                return ast.Membership(ast.Path.of("id"), ())
            some = ast.Relation(attr, ast.Quantifier.ANY, ast.Relation(link, ast.Quantifier.ANY, None))
            return some if relation == "type_is" else ast.Not(some)
        if relation == "is":
            if not isinstance(value, dict) or "id" not in value or "type" not in value:
                raise ValidationError(f"{where}: takes {{'type', 'id'}} or None, not {value!r}", "bad_filter")
            if value["type"] not in field.types:
                return ast.Membership(ast.Path.of("id"), ())
            granted = _is(ast.Path.of("project.id"), self._uuid(value["id"], where))
            return ast.Relation(attr, ast.Quantifier.ANY, ast.Relation(link, ast.Quantifier.ANY, granted))
        raise ValidationError(f"{where}: the relation {relation!r} is not served for multi-entity fields", "bad_filter")

    def _full_name(self, field: Field, relation: str, values: list[Any], where: str) -> ast.Expression:
        """A name joined from several attributes (first and last name): ``is`` holds when some split of the text
        at a space gives each attribute its part (or one attribute holds it all); other relations hold when one
        of the attributes does."""
        first, last = field.attrs[0], field.attrs[-1]
        value = values[0] if values else None
        if relation != "is" or value is None:
            if value is None:
                return _all([_any([_is(ast.Path.of(a), None), _is(ast.Path.of(a), "")]) for a in field.attrs])
            return _any([self._scalar(ast.Path.of(a), relation, values, where) for a in field.attrs])
        text = _like(value).strip()
        words = text.split(" ")
        splits = [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
        options = [_all([_is(ast.Path.of(first), a), _is(ast.Path.of(last), b)]) for a, b in splits]
        for whole, empty in ((first, last), (last, first)):
            options.append(_all([_is(ast.Path.of(whole), text), _any([_is(ast.Path.of(empty), None), _is(ast.Path.of(empty), "")])]))
        return _any(options)

    def _entity(self, field: Field, relation: str, value: Any, where: str, ours: str | None = None) -> ast.Expression:
        attr = field.attr
        if relation == "is":
            if value is None:  # no link, or one to a type the field does not take (a Shot right under its project)
                unset = _is(ast.Path.of(f"{attr}.id"), None)  # type: ignore[arg-type]
                others = [ast.Not(self._entity(field, "type_is", t, where)) for t in field.types]
                return ast.Or((unset, _all(others)))
            if not isinstance(value, dict) or "id" not in value or "type" not in value:
                raise ValidationError(f"{where}: takes {{'type', 'id'}} or None, not {value!r}", "bad_filter")
            if value["type"] not in field.types:
                return ast.Membership(ast.Path.of("id"), ())  # a link of another type: nothing
            key = self._uuid(value["id"], where)
            if field.through:  # a note's project: its parent, or its parent's project (:mod:`.notes`)
                return _any([_is(ast.Path.of(f"{attr}_id"), key), *(
                    ast.Membership(ast.Path.of(f"{attr}_id"), ast.Subquery(ast.Path.of("id"), ours_type,
                                                                         _is(ast.Path.of(f"{path}.id"), key)))
                    for ours_type, path in field.through.items())])
            if field.fallback:  # the link read when the field's own is empty (a Version right under its project)
                return ast.Or((_is(ast.Path.of(f"{attr}.id"), key), _is(ast.Path.of(f"{field.fallback}.id"), key)))
            # The key the row holds, compared as it is: ``project_id is X and project_id is_not None`` holds
            # for the same rows as ``project.id is X`` (a row links only to rows that are there, of its project),
            # negated too (no link: false, so ``is_not`` keeps the rows of no link), without a look-up of the
            # linked row before the page's statement.
            column = self._column(ours, str(attr)) if self._column is not None and ours is not None else None
            if column is not None:
                held = ast.Path.of(column)
                return ast.And((_is(held, key), ast.Comparison(held, ast.Operator.IS_NOT, _lit(None))))
            return _is(ast.Path.of(f"{attr}.id"), key)
        if relation == "type_is":
            linked = self.mapping.type(value)
            return ast.Membership(ast.Path.of(f"{attr}.id"), ast.Subquery(ast.Path.of("id"), linked.ours, linked.condition))  # type: ignore[arg-type]
        if relation.startswith("name_"):
            names = []
            for type_name in field.types:
                linked = self.mapping.type(type_name)
                inner = self.relation(linked, linked.name_field, relation[len("name_"):], [value])
                names.append(ast.Membership(ast.Path.of(f"{attr}.id"), ast.Subquery(ast.Path.of("id"), linked.ours, linked.scoped(inner))))  # type: ignore[arg-type]
            return _any(names)
        raise ValidationError(f"{where}: the relation {relation!r} is not served for links", "bad_filter")
