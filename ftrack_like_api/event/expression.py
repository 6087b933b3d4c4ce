"""Event subscription expressions: ``topic=ftrack.update and data.user.name=jo``.

A subscriber names the events it wants with an expression; :func:`match` tells
whether an event (a mapping) is one of them. The language::

    expression := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expression ")" | condition
    condition  := KEY ("=" | "!=" | "<" | ">" | "<=" | ">=") VALUE
    KEY        := a dotted path into the event: topic, data.user.name, source.user.username
    VALUE      := '"…"' | "'…'" | a bare word; a trailing * is a prefix match with = and !=

Matching: a key missing from the event makes its condition false, whatever the
operator. ``=`` and ``!=`` compare the value with the event's as text — numbers
as numbers, ``true``/``false`` with booleans, ``None`` with null. ``<``, ``>``,
``<=`` and ``>=`` compare numbers as numbers and text as text, and are false for
anything else. ``topic=ftrack.*`` matches every topic that starts with ``ftrack.``.
A key that goes through a list reaches each of its elements:
``data.entities.entityType=task`` matches an event one of whose entities is a task, and
``data.entities.action!=remove`` one none of whose entities was removed.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
import threading
from typing import Any, Callable, Iterable, Mapping, Union

import pyparsing as pp

from ..exceptions import ExpressionError

__all__ = ["And", "Condition", "Expression", "Not", "OPERATORS", "Or", "match", "parse", "render", "wanted"]

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}  # fmt: skip
_KEY = r"[A-Za-z0-9_$\-]+(?:\.[A-Za-z0-9_$\-]+)*"
_RESERVED = ("and", "or", "not")
_BARE_CHARS = r"""[^\s()"'=!<>]"""
_BARE_VALUE = rf"(?i:(?!(?:{'|'.join(_RESERVED)})(?!{_BARE_CHARS}))){_BARE_CHARS}+"
_PLAIN_BARE = re.compile(r"[A-Za-z0-9_.\-:/@+]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "*": "*"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_TRAILING_STAR = re.compile(r"(\\*)\*\Z")
_RENDER_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "*": "\\*"})


# --- AST -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Condition:
    """``key operator value``; ``prefix`` for a value written with a trailing ``*``."""

    key: tuple[str, ...]
    operator: str
    value: str
    prefix: bool = False

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ValueError(f"operator must be one of {tuple(OPERATORS)}, not {self.operator!r}")
        if not self.key or not all(re.fullmatch(_KEY, part) for part in self.key):
            raise ValueError(f"not a key: {self.key!r}")
        if self.prefix and self.operator not in ("=", "!="):
            raise ValueError("a prefix match (trailing *) goes with = or != only")


@dataclasses.dataclass(frozen=True)
class Not:
    operand: Expression


@dataclasses.dataclass(frozen=True)
class And:
    operands: tuple[Expression, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    operands: tuple[Expression, ...]


Expression = Union[Condition, Not, And, Or]


# --- grammar and parse ------------------------------------------------------------------


def _condition(tokens: pp.ParseResults) -> Condition:
    key, op, raw = tokens[0], tokens[1], tokens[2]
    quoted = raw[:1] in ("'", '"')
    inner = raw[1:-1] if quoted else raw
    star = _TRAILING_STAR.search(inner)
    # In a quoted value, an odd run of backslashes before the last * escapes it.
    prefix = op in ("=", "!=") and star is not None and (not quoted or len(star.group(1)) % 2 == 0)
    if prefix:
        inner = inner[:-1]
    value = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), inner) if quoted else inner
    return Condition(tuple(key.split(".")), op, value, prefix)


def _unclosed(text: str, position: int, tokens: pp.ParseResults) -> None:
    raise pp.ParseFatalException(text, position, "A string that opens here is not closed")


def _grammar() -> pp.ParserElement:
    def keyword(word: str) -> pp.ParserElement:
        return pp.CaselessKeyword(word).set_name(f"'{word}'").suppress()

    AND, OR, NOT = map(keyword, _RESERVED)
    key = pp.Regex(_KEY).set_name("key")
    op = pp.one_of(list(OPERATORS)).set_name("operator (= != < > <= >=)")
    quoted = pp.Regex(r'"(?:[^"\\]|\\.)*"|' r"'(?:[^'\\]|\\.)*'", flags=re.DOTALL).set_name("quoted string")
    unclosed = pp.Regex(r"""["']""").set_name("unclosed string").set_parse_action(_unclosed)
    value = (quoted | pp.Regex(_BARE_VALUE) | unclosed).set_name("value")
    condition = (key + op - value).set_name("condition").set_parse_action(_condition)
    expression = pp.Forward()  # set_name() would type it as a plain ParserElement
    expression.set_name("condition")
    factor = pp.Forward()
    factor.set_name("condition")
    factor <<= (
        (NOT - factor).set_parse_action(lambda t: Not(t[0]))
        | pp.Suppress("(") - expression - pp.Suppress(")")
        | condition
    ).set_name("condition")
    term = (factor + pp.ZeroOrMore(AND - factor)).set_parse_action(lambda t: t[0] if len(t) == 1 else And(tuple(t)))
    expression <<= (term + pp.ZeroOrMore(OR - term)).set_parse_action(lambda t: t[0] if len(t) == 1 else Or(tuple(t)))
    return (expression + pp.StringEnd().set_name("end of expression")).parse_with_tabs()


_PARSER = _grammar()
_PARSER.streamline()
_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Expression:
    """Parse a subscription expression, or raise :class:`ExpressionError`. Memoised."""
    if not isinstance(text, str):
        raise TypeError(f"an expression is text (str), not {type(text).__name__}")
    try:
        with _LOCK:
            return _PARSER.parse_string(text)[0]
    except pp.ParseBaseException as error:
        expected = error.msg[len("Expected ") :] if error.msg.startswith("Expected ") else None
        rest = text[error.loc :].split(None, 1)
        found = repr(rest[0][:30]) if rest else "the end of the expression"
        reason = f"Expected {expected}, found {found}" if expected else error.msg
        raise ExpressionError(reason, text, error.loc, expected) from None
    except RecursionError:
        raise ExpressionError("The expression nests parentheses or 'not' too deeply", text) from None


# --- render -----------------------------------------------------------------------------


def render(node: Expression) -> str:
    """Canonical text for an expression; ``parse(render(e)) == e``."""
    if isinstance(node, Condition):
        value = node.value
        if _PLAIN_BARE.fullmatch(value) and value.lower() not in _RESERVED:
            text = value + ("*" if node.prefix else "")
        else:
            text = '"' + value.translate(_RENDER_ESCAPES) + ("*" if node.prefix else "") + '"'
        return f"{'.'.join(node.key)}{node.operator}{text}"
    if isinstance(node, Not):
        inner = render(node.operand)
        return f"not ({inner})" if isinstance(node.operand, (And, Or)) else f"not {inner}"
    if isinstance(node, And):
        return " and ".join(f"({render(o)})" if isinstance(o, (And, Or)) else render(o) for o in node.operands)
    if isinstance(node, Or):
        return " or ".join(f"({render(o)})" if isinstance(o, Or) else render(o) for o in node.operands)
    raise TypeError(f"not an expression node: {node!r}")


# --- match ------------------------------------------------------------------------------


def match(expression: Expression | str, event: Mapping[str, Any]) -> bool:
    """Whether ``event`` is one the expression subscribes to."""
    if isinstance(expression, str):
        expression = parse(expression)
    if isinstance(expression, Condition):
        return _match_condition(expression, event)
    if isinstance(expression, Not):
        return not match(expression.operand, event)
    if isinstance(expression, And):
        return all(match(o, event) for o in expression.operands)
    if isinstance(expression, Or):
        return any(match(o, event) for o in expression.operands)
    raise TypeError(f"not an expression: {expression!r}")


def wanted(event: Mapping[str, Any], subscriptions: Iterable[tuple[Expression, Mapping[str, Any]]]) -> bool:
    """Whether one of ``subscriptions`` (expression, subscriber's metadata) wants ``event``.

    Its expression matches the event, and the event's ``target``, when it has one, is an
    expression that matches the subscriber (``id=<hub id>`` for a reply). An event whose
    target does not parse is wanted by nobody: it names no one.
    """
    target = event.get("target") or ""
    try:
        aimed = parse(target) if target else None
    except (ExpressionError, TypeError):
        return False
    return any(match(expression, event) and (aimed is None or match(aimed, subscriber))
               for expression, subscriber in subscriptions)  # fmt: skip


def _lookup(event: Any, key: tuple[str, ...]) -> list[Any]:
    """The values ``key`` reaches in ``event``: one, or one per element of each list it goes through."""
    found = [event]
    for part in key:
        found = [item[part] for item in _elements(found) if isinstance(item, Mapping) and part in item]
    return _elements(found)


def _elements(values: list[Any]) -> list[Any]:
    """``values``, each list among them replaced by its elements."""
    return [element for value in values for element in (value if isinstance(value, list) else [value])]


def _match_condition(condition: Condition, event: Mapping[str, Any]) -> bool:
    """Whether one of the values the key reaches meets the condition; with ``!=``, whether none equals."""
    found = _lookup(event, condition.key)
    if not found:
        return False
    if condition.operator == "!=":
        return not any(_meets(condition, "=", value) for value in found)
    return any(_meets(condition, condition.operator, value) for value in found)


def _meets(condition: Condition, operator: str, found: Any) -> bool:
    """Whether one value meets ``condition`` under ``operator`` (``=`` for a ``!=`` condition)."""
    if condition.prefix:
        return isinstance(found, str) and found.startswith(condition.value)
    if operator == "=":
        return _equal(found, condition.value)
    compare = OPERATORS[operator]
    if isinstance(found, str):
        return compare(found, condition.value)
    number = _number(condition.value)
    return _is_number(found) and number is not None and compare(found, number)


def _equal(found: Any, value: str) -> bool:
    if found is None:
        return value.lower() in ("none", "null")
    if isinstance(found, bool):
        return value.lower() == ("true" if found else "false")
    if _is_number(found):
        return found == _number(value)
    return isinstance(found, str) and found == value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
