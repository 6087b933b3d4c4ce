"""Bound parameters: values for the ``:name`` placeholders of a parsed query.

A bound value becomes a :class:`~.ast.Literal` node, never text spliced into the
query, so whatever it holds (quotes, ``and``, parentheses) it stays one value:
``render`` escapes it when the query is turned back into text.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import uuid
from typing import Any, Iterable, Mapping

from ..exceptions import ParameterError
from . import ast
from .render import render

__all__ = ["bind", "parameters"]


def parameters(node: ast.Node) -> frozenset[str]:
    """The names of the parameters in ``node``."""
    return frozenset(n.name for n in ast.walk(node) if isinstance(n, ast.Parameter))


def bind(query: ast.Query, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> ast.Query:
    """``query`` with each ``:name`` replaced by its value.

    Values: ``str``, ``int``, ``float``, ``bool``, ``None``, :class:`uuid.UUID`,
    :class:`datetime.date` and :class:`datetime.datetime` (ISO 8601 text; an aware
    datetime keeps its offset, a naive one is read as UTC). After ``in`` or
    ``not_in``, a parameter takes a list, tuple, set or other iterable of those.

    Raises :class:`ParameterError` for a parameter without a value, a value no
    parameter asks for (a typo, most likely), or a value of another kind.
    """
    given = {**(values or {}), **kwargs}
    wanted = parameters(query)
    missing = sorted(wanted - given.keys())
    if missing:
        given_names = f" (given: {_names(sorted(given))})" if given else ""
        raise ParameterError(f"No value given for {_names(missing)}{given_names}", render(query))
    unused = sorted(given.keys() - wanted)
    if unused:
        raise ParameterError(f"Values given for {_names(unused)}, which the query does not use", render(query))
    if not wanted:
        return query
    return _replace(query, given)


def _replace(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Membership) and isinstance(node.values, ast.Parameter):
        return dataclasses.replace(node, values=_literals(node.values.name, values[node.values.name]))
    if isinstance(node, ast.Parameter):
        return _literal(node.name, values[node.name])
    if isinstance(node, tuple):
        return tuple(_replace(item, values) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, (type, ast.Literal, ast.Path)):
        changes = {}
        for field in dataclasses.fields(node):
            old = getattr(node, field.name)
            new = _replace(old, values)
            if new is not old:
                changes[field.name] = new
        return dataclasses.replace(node, **changes) if changes else node
    return node


def _literal(name: str, value: Any) -> ast.Literal:
    if value is None or isinstance(value, (str, bool, int)):
        return ast.Literal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParameterError(f"Parameter :{name} is {value!r}; a query compares finite numbers only")
        return ast.Literal(value)
    if isinstance(value, datetime.datetime):
        return ast.Literal(value.isoformat())
    if isinstance(value, datetime.date):
        return ast.Literal(value.isoformat())
    if isinstance(value, uuid.UUID):
        return ast.Literal(str(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        raise ParameterError(f"Parameter :{name} is a {type(value).__name__}; a list goes after 'in' or 'not_in'")
    raise ParameterError(
        f"Parameter :{name} is a {type(value).__name__}; expected str, int, float, bool, None, UUID, date or datetime"
    )


def _literals(name: str, value: Any) -> tuple[ast.Literal, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ParameterError(f"Parameter :{name} follows 'in', so it takes a list of values, not {value!r}")
    return tuple(_literal(name, item) for item in value)


def _names(names: Iterable[str]) -> str:
    return ", ".join(f":{n}" for n in names)
