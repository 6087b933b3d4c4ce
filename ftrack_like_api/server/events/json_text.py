"""The JSON text of ``ftrack.update`` payloads, written piece by piece.

A batch of 10,000 creates tells 10,000 entries of about 1.5 KB each. Building them as
dicts and handing those to ``json.dumps`` cost more than the batch's own inserts, so the
payload is written as text instead, from what the writer recorded:

- :func:`value` encodes one value as events carry it (dates as ISO text in UTC, exact
  numbers as floats), by its type;
- :class:`AddTemplates` keeps one ``%`` template per type and set of attribute names for
  an ``add`` (nearly every create of a batch has the same names in the same order), so an
  entry costs one formatting of its encoded values;
- :func:`entry` writes any other entry (updates, removes, entries merged from several
  changes) from its parts; :func:`node_template` the template of one element of ``parents``.

What is written decodes to what ``json.dumps`` gives for the same payload as dicts
(``tests/server/test_events_text.py`` compares them).
"""

from __future__ import annotations

import datetime
import decimal
import functools
import json
import math
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from ...exceptions import ValidationError

__all__ = ["AddTemplates", "entry", "node_template", "value"]

#: ``"text"`` with JSON's escapes, ASCII only (as ``json.dumps`` writes by default).
string: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]

#: How many templates (or row layouts) are kept; past that they are forgotten and made again.
KEPT = 512


def _float(number: float) -> str:
    if math.isfinite(number):
        return float.__repr__(number)
    raise ValidationError(f"An event's values are JSON, not {number!r}", "bad_event")


@functools.lru_cache(maxsize=256)
def _naive_datetime(moment: datetime.datetime) -> str:
    # The stored form: naive UTC. A batch stamps many rows with the same moment: encoded once.
    return f'"{moment.isoformat()}+00:00"'


def _datetime(moment: datetime.datetime) -> str:
    return _naive_datetime(moment) if moment.tzinfo is None else f'"{moment.isoformat()}"'


def _iso(found: Any) -> Any:
    if isinstance(found, (datetime.datetime, datetime.date)):
        return found.isoformat()
    raise ValidationError(f"An event's values are JSON, not {type(found).__name__}", "bad_event")


def _other(found: Any) -> str:
    """Anything without a fast path (lists, objects, subclasses): ``json.dumps``."""
    try:
        return json.dumps(found, separators=(",", ":"), default=_iso, allow_nan=False)
    except ValueError as error:
        raise ValidationError(f"An event's values are JSON: {error}", "bad_event") from None


#: The encoder of each type a row holds, by exact type.
_BY_TYPE: dict[type, Callable[[Any], str]] = {
    str: string,
    int: int.__repr__,
    bool: lambda flag: "true" if flag else "false",
    type(None): lambda _: "null",
    float: _float,
    datetime.datetime: _datetime,
    datetime.date: lambda day: f'"{day.isoformat()}"',
    decimal.Decimal: lambda number: _float(float(number)),
}


def value(found: Any) -> str:
    """``found`` as JSON text, as an event carries it: a naive datetime is UTC (``+00:00``), a
    :class:`~decimal.Decimal` a float; a value JSON cannot carry is a ValidationError ``bad_event``."""
    encode = _BY_TYPE.get(type(found))
    return encode(found) if encode is not None else _other(found)


def values(found: tuple[Any, ...] | list[Any]) -> list[str]:
    """Each of ``found`` as :func:`value` writes it."""
    by_type = _BY_TYPE
    try:
        return [by_type[type(v)](v) for v in found]
    except KeyError:
        return [value(v) for v in found]


def _literal(text: str) -> str:
    """Fixed text in a ``%`` template."""
    return text.replace("%", "%%")


def node_template(entity_type: str, legacy: str) -> str:
    """The ``%`` template of one element of ``parents``: filled with the encoded id and parentId."""
    return f'{{"entityId":%s,"entityType":{_literal(string(legacy))},"entity_type":{_literal(string(entity_type))},"parentId":%s}}'


def _head(action: str, legacy: str, entity_type: str, entity_id: str) -> str:
    return f'{{"action":{string(action)},"entityId":{entity_id},"entityType":{string(legacy)},"entity_type":{string(entity_type)}'


def entry(
    action: str, entity_id: Any, legacy: str, entity_type: str, changes: Mapping[str, tuple[Any, Any]],
    object_type: tuple[Any] | None, parents: str, parent_id: str,
) -> str:  # fmt: skip
    """One entry of ``data.entities``: ``changes`` by name as (old, new), ``object_type`` a 1-tuple
    when the entry has ``objectTypeId``; ``parents`` the text inside its list, ``parent_id`` encoded."""
    keys = ",".join(string(name) for name in changes)
    told = ",".join(f'{string(name)}:{{"old":{value(old)},"new":{value(new)}}}' for name, (old, new) in changes.items())
    typed = "" if object_type is None else f',"objectTypeId":{value(object_type[0])}'
    return (f'{_head(action, legacy, entity_type, value(entity_id))},"keys":[{keys}],"changes":{{{told}}}{typed},'
            f'"parents":[{parents}],"parentId":{parent_id}}}')  # fmt: skip


class AddTemplates:
    """``add`` entries of rows as the writer recorded them, one ``%`` template per type and names."""

    def __init__(self) -> None:
        #: (type, the row's names in order) -> (getter of the values told, their names)
        self._layouts: dict[tuple[str, tuple[str, ...]], tuple[Callable[[Mapping[str, Any]], Any], tuple[str, ...]]] = {}
        #: (type, the names told) -> the template
        self._templates: dict[tuple[str, tuple[str, ...]], str] = {}

    def text(
        self, entity_type: str, legacy: str, shown: Mapping[str, str], row: Mapping[str, Any],
        entity_id: str, object_type: tuple[Any] | None, parents: str, parent_id: str,
    ) -> str:  # fmt: skip
        """The entry of a created ``row`` (every value set, old None), ``shown`` the attributes told
        and the names they go under; ``entity_id``/``parent_id`` encoded, ``parents`` as :func:`entry`."""
        layout_key = (entity_type, tuple(row))
        layout = self._layouts.get(layout_key)
        if layout is None:
            names = tuple(name for name in row if name in shown)
            if len(self._layouts) >= KEPT:
                self._layouts.clear()
            getter: Callable[[Mapping[str, Any]], Any] = (
                itemgetter(*names) if len(names) > 1 else (lambda r: (r[names[0]],)) if names else (lambda r: ()))
            layout = self._layouts[layout_key] = (getter, names)
        getter, names = layout
        told = getter(row)
        if None in told:  # values not set are not told
            names = tuple(name for name, v in zip(names, told) if v is not None)
            told = tuple(v for v in told if v is not None)
        template_key = (entity_type, names) if object_type is None else (entity_type, names + ("\0objectTypeId",))
        template = self._templates.get(template_key)
        if template is None:
            if len(self._templates) >= KEPT:
                self._templates.clear()
            template = self._templates[template_key] = self._template(entity_type, legacy, shown, names, object_type is not None)
        if object_type is None:
            return template % (entity_id, *values(told), parents, parent_id)
        return template % (entity_id, *values(told), value(object_type[0]), parents, parent_id)

    @staticmethod
    def _template(entity_type: str, legacy: str, shown: Mapping[str, str], names: tuple[str, ...], typed: bool) -> str:
        keys = ",".join(string(shown[name]) for name in names)
        told = ",".join(f'{_literal(string(shown[name]))}:{{"old":null,"new":%s}}' for name in names)
        head = _literal(_head("add", legacy, entity_type, "\0"))
        return (head.replace("\0", "%s") + f',"keys":[{_literal(keys)}],"changes":{{{told}}}'
                + (',"objectTypeId":%s' if typed else "") + ',"parents":[%s],"parentId":%s}')  # fmt: skip
