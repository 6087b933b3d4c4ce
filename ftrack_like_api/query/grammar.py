"""The query grammar in pyparsing 3, rule for rule the EBNF of docs/reference/query-language.rst.

This module knows pyparsing and nothing of the AST: :func:`query_grammar` takes a
mapping from rule name to parse action, so the one module that turns parse
results into nodes (:mod:`.build`) supplies them. Every rule is named, so an
error says ``Expected value`` rather than a regular expression.

Boolean precedence is written out as the EBNF has it (``or`` over ``and`` over
``not``) instead of with ``infix_notation``: each level is entered once, so the
parse is linear without packrat caching, and nothing process-global is switched on.
After a word that commits to a construct (``where``, ``and``, an operator …) the
grammar uses ``-`` so an error is reported where it is, not where the clause began.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping

import pyparsing as pp

from .ast import AGGREGATE_FUNCTIONS, OPERATOR_SPELLINGS

__all__ = ["RESERVED_WORDS", "query_grammar"]

#: Words that end a value or a clause; a bare (unquoted) value cannot be one of them.
RESERVED_WORDS = (
    "and", "any", "by", "from", "group", "has", "in", "limit", "not", "not_in",
    "offset", "or", "order", "select", "where",
)  # fmt: skip

# A bare value is any run of characters that cannot end one; quoted strings take escapes.
_BARE_CHARS = r"""[^\s()"',]"""
_BARE_VALUE = (
    rf"(?i:(?!(?:{'|'.join(RESERVED_WORDS)})(?!{_BARE_CHARS})))"
    rf"""[^\s()"',:]{_BARE_CHARS}*"""
)

ParseAction = Callable[..., object]


def query_grammar(actions: Mapping[str, ParseAction] | None = None) -> pp.ParserElement:
    """A new parser for a whole query; ``actions`` maps rule names to parse actions."""
    actions = actions or {}

    def rule(element: pp.ParserElement, name: str) -> pp.ParserElement:
        element = element.set_name(name)
        if name in actions:
            element.set_parse_action(actions[name])
        return element

    def keyword(word: str) -> pp.ParserElement:
        return pp.CaselessKeyword(word).set_name(f"'{word}'")

    def suppressed(symbol: str) -> pp.ParserElement:
        return pp.Suppress(pp.Literal(symbol).set_name(f"'{symbol}'"))

    (SELECT, FROM, WHERE, AND, OR, NOT, IN, NOT_IN, HAS, ANY, GROUP, ORDER, BY, ASC, DESC,
     OFFSET, LIMIT) = map(keyword, (
        "select", "from", "where", "and", "or", "not", "in", "not_in", "has", "any",
        "group", "order", "by", "asc", "desc", "offset", "limit"))  # fmt: skip
    LPAR, RPAR, COMMA = map(suppressed, "(),")

    identifier = rule(pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*"), "entity type")
    path = rule(pp.Regex(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"), "path")
    whole_number = rule(pp.Regex(r"\d+"), "whole number")

    # Values.
    quoted = rule(pp.Regex(r'"(?:[^"\\]|\\.)*"|' r"'(?:[^'\\]|\\.)*'", flags=re.DOTALL), "quoted string")
    unclosed = rule(pp.Regex(r"""["']"""), "unclosed string")
    parameter = rule(pp.Regex(r":[A-Za-z_][A-Za-z0-9_]*"), "parameter")
    bare = rule(pp.Regex(_BARE_VALUE), "bare value")
    value = rule(quoted | parameter | bare | unclosed, "value")

    # Conditions.
    expression = pp.Forward()  # set_name() would type it as a plain ParserElement
    expression.set_name("condition")
    symbols = [s for s in OPERATOR_SPELLINGS if not s[0].isalpha()]
    words = [s for s in OPERATOR_SPELLINGS if s[0].isalpha()]
    operator = rule(pp.one_of(symbols) | pp.MatchFirst([keyword(w) for w in words]), "operator")
    subquery = rule(
        SELECT.suppress() - path - FROM.suppress() - identifier + pp.Opt(WHERE.suppress() - expression),
        "subquery",
    )
    value_list = rule(pp.Group(pp.Opt(value + pp.ZeroOrMore(COMMA - value))), "value list")
    members = rule(LPAR - (subquery | value_list) - RPAR | parameter, "'(' or a parameter")
    relation_tail = (HAS | ANY) - LPAR - pp.Group(pp.Opt(expression)) - RPAR
    membership_tail = (IN | NOT_IN) - members
    comparison_tail = operator - value
    condition = rule(
        path + rule(relation_tail | membership_tail | comparison_tail, "operator, 'in', 'not_in', 'has' or 'any'"),
        "condition",
    )
    factor = pp.Forward()
    factor.set_name("condition")
    factor <<= (rule(NOT.suppress() - factor, "negation") | LPAR - expression - RPAR | condition).set_name("condition")
    term = rule(factor + pp.ZeroOrMore(AND.suppress() - factor), "conjunction")
    expression <<= rule(term + pp.ZeroOrMore(OR.suppress() - term), "disjunction")

    # Clauses.
    aggregate = rule(pp.one_of(AGGREGATE_FUNCTIONS, caseless=True) + LPAR - path - RPAR, "aggregate")
    # `from` and `group` are real attribute names: a projection is a path unless the
    # words ahead are the `from Type` that ends the list.
    from_clause_ahead = FROM + identifier + (pp.StringEnd() | WHERE | GROUP | ORDER | OFFSET | LIMIT)
    # A look-ahead skips no whitespace by default; then errors are placed before the spot.
    not_from_clause = (~from_clause_ahead).ignore_whitespace(recursive=False)
    projection = rule(aggregate | not_from_clause + path, "projection")
    projections = rule(
        SELECT.suppress() - pp.Group(projection + pp.ZeroOrMore(COMMA - projection))("projections") - FROM.suppress(),
        "projections",
    )
    group_by = rule(GROUP.suppress() - BY.suppress() - pp.Group(path + pp.ZeroOrMore(COMMA - path))("group_by"), "group by")
    order_key = rule(path + pp.Opt(ASC | DESC), "order key")
    order_by = rule(
        ORDER.suppress() - BY.suppress() - pp.Group(order_key + pp.ZeroOrMore(COMMA - order_key))("order_by"), "order by"
    )
    offset = OFFSET.suppress() - whole_number("offset")
    limit = LIMIT.suppress() - whole_number("limit")
    page = rule(offset + pp.Opt(limit) | limit + pp.Opt(offset), "offset or limit")
    query = rule(
        pp.Opt(projections)
        + identifier("entity_type")
        + pp.Opt(WHERE.suppress() - pp.Group(expression)("where"))
        + pp.Opt(group_by)
        + pp.Opt(order_by)
        + pp.Opt(page)
        + pp.StringEnd().set_name("end of query"),
        "query",
    )
    return query.parse_with_tabs()

