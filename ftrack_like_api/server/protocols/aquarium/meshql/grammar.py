"""meshQL's text into its syntax tree (:mod:`.ast`): the one reader of pyparsing's results.

The subset Aquarium's Python client writes and its documented examples use::

    query    := "#" step (edgestep step)* [")"…] ["UNIQUE"] ["SORT" (null | path [ASC|DESC], …)] ["VIEW" view]
    step     := [edgestep] [offset "," limit] [expr]
    edgestep := "-(" types [", " depth] ")>"  |  "<(" … ")-"  |  "<(" … ")>"     (out, in, both)
    types    := $Type (("OR" | "|") $Type)*
    expr     := NOT expr | expr AND expr | expr OR expr | "(" expr ")" | "*" | $Type
              | path [NONE|ALL] op value | edgestep [offset "," limit] [expr]      (a sub-traversal: exists)
    op       := == != < <= > >= IN "NOT IN" LIKE "NOT LIKE"
    value    := 'text' | "text" | number | true | false | null | [value, …] | @alias
    path     := (item|edge|path)(.name | [*])*

A string alias is spliced where ``$name`` stands; an object alias is a VIEW (its values a
path, a nested ``# …`` query or ``FIRST(# …)``). Stray closing parentheses after the last
step are allowed (the client's ``get_tasks`` writes one). Errors are :class:`MeshqlError`
with the position and what was expected; constructs of AQL that meshQL queries here do not
serve are named in a refusal before parsing.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pyparsing as pp

from .....exceptions import QueryError
from . import ast

__all__ = ["MeshqlError", "parse"]

_ALIAS = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_FIRST = re.compile(r"^\s*FIRST\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
#: AQL words a meshQL query here does not take, refused by name.
_REFUSED = re.compile(r"\b(COLLECT|LET|RETURN|FILTER|LIMIT|SHORTEST_PATH|K_SHORTEST_PATHS|GRAPH|PRUNE|INSERT|UPDATE|REMOVE|"
                      r"UPSERT|REPLACE|AGGREGATE|INTO)\b")  # fmt: skip


class MeshqlError(QueryError):
    """A meshQL text that cannot be parsed, or that uses a construct not served here."""

    kind = "meshQL query"


class _Hop(tuple):  # type: ignore[type-arg]
    """(direction, edge types, depth) of an edge step, while parsing."""

    def __new__(cls, direction: str, types: tuple[str, ...], depth: int) -> _Hop:
        return super().__new__(cls, (direction, types, depth))


class _Window(tuple):  # type: ignore[type-arg]
    """(offset, limit) while parsing."""

    def __new__(cls, offset: int, limit: int) -> _Window:
        return super().__new__(cls, (offset, limit))


def _keyword(word: str) -> pp.Keyword:
    return pp.CaselessKeyword(word)


def _grammar() -> pp.ParserElement:
    AND, OR, NOT, IN, LIKE = map(_keyword, ("AND", "OR", "NOT", "IN", "LIKE"))
    TRUE, FALSE, NULL = map(_keyword, ("true", "false", "null"))
    NONE, ALL, ANY = map(_keyword, ("NONE", "ALL", "ANY"))
    SORT, VIEW, UNIQUE, ASC, DESC = map(_keyword, ("SORT", "VIEW", "UNIQUE", "ASC", "DESC"))
    lpar, rpar = pp.Suppress("("), pp.Suppress(")")

    ident = pp.Word(pp.alphas + "_", pp.alphanums + "_").set_name("name")
    type_ref = pp.Combine(pp.Suppress("$") + ident).set_name("$Type")
    integer = pp.Word(pp.nums).set_parse_action(lambda t: int(t[0])).set_name("integer")
    number = pp.Regex(r"-?\d+(\.\d+)?([eE][-+]?\d+)?").set_parse_action(lambda t: json.loads(t[0])).set_name("number")
    string = (pp.QuotedString("'", esc_char="\\") | pp.QuotedString('"', esc_char="\\")).set_name("text")
    path = pp.Regex(r"(item|edge|path)(\.[A-Za-z_][A-Za-z0-9_]*(\[\*\])?)*").set_name("path (item.…, edge.…)")
    path.set_parse_action(lambda t: [tuple(t[0].split("."))])

    value: pp.Forward = pp.Forward()
    value.set_name("value")
    array = (pp.Suppress("[") + pp.Opt(pp.DelimitedList(value)) + pp.Suppress("]")).set_parse_action(
        lambda t: ast.Value(literal=[v.literal for v in t])
    )
    alias = pp.Combine(pp.Suppress("@") + ident).set_parse_action(lambda t: ast.Value(alias=t[0])).set_name("@alias")
    value <<= (
        string.copy().set_parse_action(lambda t: ast.Value(literal=t[0]))
        | number.copy().add_parse_action(lambda t: ast.Value(literal=t[0]))
        | TRUE.copy().set_parse_action(lambda: ast.Value(literal=True))
        | FALSE.copy().set_parse_action(lambda: ast.Value(literal=False))
        | NULL.copy().set_parse_action(lambda: ast.Value(literal=None))
        | array
        | alias
    )
    op = (pp.Literal("==") | "!=" | "<=" | ">=" | "<" | ">" | pp.Group(NOT + IN) | IN | pp.Group(NOT + LIKE) | LIKE).set_name("operator")
    op.add_parse_action(lambda t: " ".join(t[0]).upper() if isinstance(t[0], pp.ParseResults) else t[0].upper())
    quantifier = (NONE | ALL | ANY).set_parse_action(lambda t: t[0].upper())
    compare = (pp.Located(path + pp.Opt(quantifier, default=None) + op + value)).set_name("comparison")
    compare.set_parse_action(lambda t: ast.Compare(t[1][0], t[1][2], t[1][3], t[1][1], t[0]))

    types = pp.Group(type_ref + pp.ZeroOrMore(pp.Suppress(OR | "|") + type_ref))
    spec = lpar + types + pp.Opt(pp.Suppress(",") + integer, default=1) + rpar
    out = (pp.Suppress("-") + spec + pp.Suppress(">")).set_parse_action(lambda t: [_Hop("out", tuple(t[0]), t[1])])
    inbound = (pp.Suppress("<") + spec + pp.Suppress("-")).set_parse_action(lambda t: [_Hop("in", tuple(t[0]), t[1])])
    both = (pp.Suppress("<") + spec + pp.Suppress(">")).set_parse_action(lambda t: [_Hop("both", tuple(t[0]), t[1])])
    edge_step = (out | both | inbound).set_name("edge step (-($Child)>, <($Child)-, <($Child)>)")
    window = (integer + pp.Suppress(",") + integer).set_parse_action(lambda t: [_Window(t[0], t[1])]).set_name("offset, limit")

    expr = pp.Forward().set_name("filter")

    def step_of(t: Any) -> ast.Step:
        position, parts = t[0], list(t[1])
        direction = types_ = None
        depth, offset, limit, where = 1, 0, None, None
        if parts and isinstance(parts[0], _Hop):
            direction, types_, depth = parts.pop(0)
        if parts and isinstance(parts[0], _Window):
            offset, limit = parts.pop(0)
            limit = limit or None  # 0, 0: no limit
        if parts:
            where = parts.pop(0)
        return ast.Step(direction, tuple(types_ or ()), depth, offset, limit, where, position)

    sub = pp.Located(edge_step + pp.Opt(window) + pp.Opt(expr)).set_name("sub-traversal")
    sub.set_parse_action(lambda t: ast.Exists(step_of(t)))
    star = pp.Literal("*").set_parse_action(lambda: ast.All())
    operand = sub | compare | star | type_ref.copy().set_parse_action(lambda t: ast.TypeIs(t[0]))
    expr <<= pp.infix_notation(operand, [
        (NOT, 1, pp.OpAssoc.RIGHT, lambda t: ast.Not(t[0][1])),
        (AND, 2, pp.OpAssoc.LEFT, lambda t: ast.And(tuple(t[0][0::2]))),
        (OR, 2, pp.OpAssoc.LEFT, lambda t: ast.Or(tuple(t[0][0::2]))),
    ])  # fmt: skip

    first = pp.Located(pp.Opt(edge_step) + pp.Opt(window) + pp.Opt(expr)).set_parse_action(lambda t: step_of(t))
    later = pp.Located(edge_step + pp.Opt(window) + pp.Opt(expr)).set_parse_action(lambda t: step_of(t))
    sort_key = pp.Group(path + pp.Opt(ASC | DESC, default="ASC"))
    sort = pp.Suppress(SORT) + (NULL.copy().set_parse_action(lambda: "null") | pp.DelimitedList(sort_key))
    view_ref = pp.Combine(pp.Suppress("$") + ident).set_parse_action(lambda t: [("alias", t[0])])
    view = pp.Suppress(VIEW) + (view_ref | path.copy().add_parse_action(lambda t: [("path", t[0])]))
    query = (
        pp.Suppress("#") + pp.Group(first + pp.ZeroOrMore(later))("steps") + pp.Suppress(pp.ZeroOrMore(")"))
        + pp.Opt(UNIQUE)("unique") + pp.Opt(pp.Group(sort))("sort") + pp.Opt(pp.Group(view))("view") + pp.StringEnd()
    )  # fmt: skip
    return query


_QUERY = _grammar()


def parse(text: str, aliases: dict[str, Any] | None = None) -> ast.Query:
    """The syntax tree of ``text``, with ``aliases`` spliced ($name) and views resolved; MeshqlError otherwise."""
    aliases = aliases or {}
    if not isinstance(text, str) or not text.strip():
        raise MeshqlError("A meshQL query is a text starting with '#'", text if isinstance(text, str) else repr(text))
    spliced = _ALIAS.sub(lambda m: f"({aliases[m[1]]})" if isinstance(aliases.get(m[1]), str) else m[0], text)
    return _parsed(spliced, json.dumps(aliases, sort_keys=True, default=str))


@functools.lru_cache(maxsize=512)
def _parsed(text: str, aliases_json: str) -> ast.Query:
    refused = _REFUSED.search(text)
    if refused and not _quoted(text, refused.start()):
        raise MeshqlError(f"AQL's {refused[1]} is not served in meshQL here (see docs/howto/from-aquarium.rst)", text,
                          refused.start())  # fmt: skip
    try:
        found = _QUERY.parse_string(text, parse_all=True)
    except pp.ParseBaseException as error:
        expected = str(error.parser_element) if error.parser_element is not None else None
        raise MeshqlError(f"Expected {expected}" if expected else "Not meshQL", text, error.loc, expected) from None
    aliases = json.loads(aliases_json)
    sort: Any = None
    if found.get("sort"):
        keys = list(found["sort"][0])
        sort = () if keys == ["null"] else tuple((tuple(k[0]), str(k[1]).upper() == "DESC") for k in keys)
    view: ast.View | None = None
    if found.get("view"):
        kind, what = found["view"][0][0]
        if kind == "path":
            view = ast.PathView(tuple(what))
        else:
            if what not in aliases:
                raise MeshqlError(f"VIEW ${what}: no alias {what!r} was given", text, text.find("$" + what))
            view = _view(aliases[what], aliases, text)
    return ast.Query(tuple(found["steps"]), bool(found.get("unique")), sort, view)


def _view(spec: Any, aliases: dict[str, Any], text: str) -> ast.View:
    if isinstance(spec, dict):
        return ast.ViewObject(tuple((str(k), _view(v, aliases, text)) for k, v in spec.items()))
    if not isinstance(spec, str):
        raise MeshqlError(f"A VIEW is a path, a query or an object of them, not {spec!r}", text)
    first = _FIRST.match(spec)
    if first:
        return ast.Nested(parse(first[1], aliases), first=True)
    if spec.strip().startswith("#"):
        return ast.Nested(parse(spec, aliases))
    if not re.fullmatch(r"(item|edge|path)(\.[A-Za-z_][A-Za-z0-9_]*)*", spec.strip()):
        raise MeshqlError(f"A VIEW's value is a path (item, edge, item.data.name …), '# …' or 'FIRST(# …)', not {spec!r}", text)
    return ast.PathView(tuple(spec.strip().split(".")))


def _quoted(text: str, position: int) -> bool:
    """Whether ``position`` of ``text`` is inside a quoted string."""
    quote = None
    for index, char in enumerate(text[:position]):
        if quote is None and char in "'\"":
            quote = char
        elif char == quote and text[index - 1] != "\\":
            quote = None
    return quote is not None
