"""AST → canonical query text.

Canonical means: keywords and operators in their canonical lower-case spelling,
strings in double quotes with ``\\\\``, ``\\"``, ``\\n``, ``\\t`` and ``\\r``
escaped, one space between tokens, ``offset`` before ``limit``, and parentheses
only where the tree needs them. For every node, ``parse(render(q)) == q``.
"""

from __future__ import annotations

import functools

from . import ast

__all__ = ["render"]

_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"})


@functools.singledispatch
def render(node: ast.Node) -> str:
    """The canonical text of a query or of any node of one."""
    raise TypeError(f"not a query node: {node!r}")


@render.register
def _query(node: ast.Query) -> str:
    parts = []
    if node.projections:
        parts.append(f"select {', '.join(map(render, node.projections))} from")
    parts.append(node.entity_type)
    if node.where is not None:
        parts.append(f"where {render(node.where)}")
    if node.group_by:
        parts.append(f"group by {', '.join(map(str, node.group_by))}")
    if node.order_by:
        parts.append(f"order by {', '.join(map(render, node.order_by))}")
    if node.offset is not None:
        parts.append(f"offset {node.offset}")
    if node.limit is not None:
        parts.append(f"limit {node.limit}")
    return " ".join(parts)


@render.register
def _path(node: ast.Path) -> str:
    return str(node)


@render.register
def _aggregate(node: ast.Aggregate) -> str:
    return f"{node.function}({node.path})"


@render.register
def _order_key(node: ast.OrderKey) -> str:
    return f"{node.path} desc" if node.descending else str(node.path)


@render.register
def _literal(node: ast.Literal) -> str:
    value = node.value
    if value is None:
        return "None"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value.translate(_STRING_ESCAPES)}"'
    return repr(value)


@render.register
def _parameter(node: ast.Parameter) -> str:
    return f":{node.name}"


@render.register
def _comparison(node: ast.Comparison) -> str:
    return f"{node.path} {node.operator.value} {render(node.value)}"


@render.register
def _membership(node: ast.Membership) -> str:
    word = "not_in" if node.negated else "in"
    if isinstance(node.values, ast.Parameter):
        return f"{node.path} {word} {render(node.values)}"
    if isinstance(node.values, ast.Subquery):
        return f"{node.path} {word} ({render(node.values)})"
    return f"{node.path} {word} ({', '.join(map(render, node.values))})"


@render.register
def _subquery(node: ast.Subquery) -> str:
    where = "" if node.where is None else f" where {render(node.where)}"
    return f"select {node.projection} from {node.entity_type}{where}"


@render.register
def _relation(node: ast.Relation) -> str:
    body = "" if node.condition is None else render(node.condition)
    return f"{node.path} {node.quantifier.value} ({body})"


@render.register
def _not(node: ast.Not) -> str:
    operand = render(node.operand)
    return f"not ({operand})" if isinstance(node.operand, (ast.And, ast.Or)) else f"not {operand}"


@render.register
def _and(node: ast.And) -> str:
    # An `and` inside an `and` keeps its parentheses, so the tree survives a round trip.
    return " and ".join(_operand(o, parenthesise=(ast.And, ast.Or)) for o in node.operands)


@render.register
def _or(node: ast.Or) -> str:
    return " or ".join(_operand(o, parenthesise=(ast.Or,)) for o in node.operands)


def _operand(node: ast.Expression, parenthesise: tuple[type, ...]) -> str:
    text = render(node)
    return f"({text})" if isinstance(node, parenthesise) else text
