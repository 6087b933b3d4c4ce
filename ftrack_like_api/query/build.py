"""Query text → AST: the parse actions, and the only module that reads ``ParseResults``.

:func:`parse` is memoised on the text (an LRU of :data:`CACHE_SIZE` queries), so a
script that runs the same query shape in a loop — with bound parameters the shape
stays the same — parses it once. A cache hit is a dictionary lookup. The parser
itself runs under a lock: pyparsing keeps per-class state while it parses.
"""

from __future__ import annotations

import functools
import re
import threading

import pyparsing as pp

from ..exceptions import QueryError
from . import ast
from .grammar import query_grammar

__all__ = ["CACHE_SIZE", "parse"]

#: How many distinct query texts :func:`parse` remembers.
CACHE_SIZE = 4096

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_KEYWORD_VALUES = {"true": True, "false": False, "none": None}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    # An unknown escape keeps its backslash: "C:\shots" means what it says.
    return _ESCAPES.get(match.group(1), match.group(0))


def unquote(token: str) -> str:
    """The text a quoted string of the language stands for: ``"say \\"hi\\""`` → ``say "hi"``."""
    return _ESCAPE.sub(_unescape, token[1:-1])


def _quoted(tokens: pp.ParseResults) -> ast.Literal:
    return ast.Literal(unquote(tokens[0]))


def _bare(tokens: pp.ParseResults) -> ast.Literal:
    word = tokens[0]
    lowered = word.lower()
    if lowered in _KEYWORD_VALUES:
        return ast.Literal(_KEYWORD_VALUES[lowered])
    if _INTEGER.fullmatch(word):
        return ast.Literal(int(word))
    if _NUMBER.fullmatch(word):
        number = float(word)
        if number - number == 0:  # finite; 1e999 stays the word it was
            return ast.Literal(number)
    return ast.Literal(word)


def _unclosed(text: str, position: int, tokens: pp.ParseResults) -> None:
    raise pp.ParseFatalException(text, position, "A string that opens here is not closed")


def _condition(tokens: pp.ParseResults) -> ast.Expression:
    path, word = tokens[0], tokens[1]
    if isinstance(word, ast.Operator):
        return ast.Comparison(path, word, tokens[2])
    if word in ("has", "any"):
        body = tokens[2]
        return ast.Relation(path, ast.Quantifier(word), body[0] if body else None)
    return ast.Membership(path, tokens[2], negated=word == "not_in")


def _chain(kind: type[ast.And] | type[ast.Or]):
    def action(tokens: pp.ParseResults) -> ast.Expression:
        return tokens[0] if len(tokens) == 1 else kind(tuple(tokens))

    return action


def _query(tokens: pp.ParseResults) -> ast.Query:
    return ast.Query(
        entity_type=tokens["entity_type"],
        projections=tuple(tokens.get("projections", ())),
        where=tokens["where"][0] if "where" in tokens else None,
        group_by=tuple(tokens.get("group_by", ())),
        order_by=tuple(tokens.get("order_by", ())),
        offset=tokens.get("offset"),
        limit=tokens.get("limit"),
    )


_ACTIONS = {
    "path": lambda t: ast.Path(tuple(t[0].split("."))),
    "whole number": lambda t: int(t[0]),
    "quoted string": _quoted,
    "unclosed string": _unclosed,
    "parameter": lambda t: ast.Parameter(t[0][1:]),
    "bare value": _bare,
    "operator": lambda t: ast.Operator.from_text(t[0]),
    "value list": lambda t: tuple(t[0]),
    "subquery": lambda t: ast.Subquery(t[0], t[1], t[2] if len(t) > 2 else None),
    "condition": _condition,
    "negation": lambda t: ast.Not(t[0]),
    "conjunction": _chain(ast.And),
    "disjunction": _chain(ast.Or),
    "aggregate": lambda t: ast.Aggregate(t[0].lower(), t[1]),
    "order key": lambda t: ast.OrderKey(t[0], descending=len(t) > 1 and t[1] == "desc"),
    "query": _query,
}

_PARSER = query_grammar(_ACTIONS)
_PARSER.streamline()
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse(text: str) -> ast.Query:
    """Parse query text into a :class:`~.ast.Query`, or raise :class:`QueryError`.

    Memoised: ``parse.cache_info()`` and ``parse.cache_clear()`` are there.

    >>> parse('Task where name is "comp"').where
    Comparison(path=Path(segments=('name',)), operator=<Operator.IS: 'is'>, value=Literal(value='comp'))
    """
    if not isinstance(text, str):
        raise TypeError(f"a query is text (str), not {type(text).__name__}")
    try:
        with _LOCK:
            return _PARSER.parse_string(text)[0]
    except pp.ParseBaseException as error:
        raise _query_error(text, error) from None
    except RecursionError:
        raise QueryError("The query nests parentheses or 'not' too deeply", text) from None


def _query_error(text: str, error: pp.ParseBaseException) -> QueryError:
    message = error.msg
    expected = message[len("Expected ") :] if message.startswith("Expected ") else None
    position = error.loc
    if position >= len(text) or not text[position:].strip():
        found = "the end of the query"
    else:
        found = repr(text[position:].split(None, 1)[0][:30])
    reason = f"Expected {expected}, found {found}" if expected else message
    return QueryError(reason, text, position, expected)
