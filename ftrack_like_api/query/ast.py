"""The query AST: frozen, hashable dataclasses, one per construct of the language.

A node is checked when it is made, so every node that exists can be rendered to
text that parses back to an equal node. Nodes are values: compare them with
``==``, use them as dict keys, derive new ones with :func:`dataclasses.replace`.

::

    Query(entity_type, projections, where, group_by, order_by, offset, limit)
      projections: Path | Aggregate
      where:       And | Or | Not | Comparison | Membership | Relation
      Comparison(path, operator, Literal | Parameter)
      Membership(path, negated, (Literal | Parameter, ...) | Subquery | Parameter)
      Relation(path, quantifier, condition or None)
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from typing import Iterator, Union

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "Aggregate",
    "And",
    "Comparison",
    "Expression",
    "Literal",
    "Membership",
    "Node",
    "Not",
    "OPERATOR_SPELLINGS",
    "Operator",
    "Or",
    "OrderKey",
    "Parameter",
    "Path",
    "Projection",
    "Quantifier",
    "Query",
    "Relation",
    "Subquery",
    "Value",
    "walk",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Aggregate functions allowed in a projection, e.g. ``count(id)``.
AGGREGATE_FUNCTIONS = ("avg", "count", "max", "min", "sum")


class Operator(enum.Enum):
    """A comparison operator; the value is its canonical spelling."""

    IS = "is"
    IS_NOT = "is_not"
    GREATER = ">"
    LESS = "<"
    GREATER_OR_EQUAL = ">="
    LESS_OR_EQUAL = "<="
    LIKE = "like"
    NOT_LIKE = "not_like"

    @classmethod
    def from_text(cls, text: str) -> Operator:
        """The operator for any of its spellings (``=``, ``after``, ``IS_NOT`` …)."""
        return _OPERATOR_SPELLINGS[text.lower()]


#: Every spelling of every operator, canonical ones included.
_OPERATOR_SPELLINGS = {
    **{op.value: op for op in Operator},
    "=": Operator.IS,
    "!=": Operator.IS_NOT,
    "<>": Operator.IS_NOT,  # SQL's, as accsyn's queries write it
    "after": Operator.GREATER,
    "greater_than": Operator.GREATER,
    "before": Operator.LESS,
    "less_than": Operator.LESS,
}
OPERATOR_SPELLINGS = tuple(_OPERATOR_SPELLINGS)


class Quantifier(enum.Enum):
    """How a relation condition applies: ``has`` (a reference) or ``any`` (a collection)."""

    HAS = "has"
    ANY = "any"


def _check_identifier(name: object, what: str) -> None:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{what} must be an identifier ([A-Za-z_][A-Za-z0-9_]*), not {name!r}")


@dataclasses.dataclass(frozen=True)
class Path:
    """A dotted attribute path such as ``status.state.short``."""

    segments: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.segments, tuple) or not self.segments:
            raise ValueError(f"a path needs a non-empty tuple of names, not {self.segments!r}")
        for segment in self.segments:
            _check_identifier(segment, "a path segment")

    @classmethod
    def of(cls, dotted: str) -> Path:
        """``Path.of("status.name")`` is ``Path(("status", "name"))``."""
        return cls(tuple(dotted.split(".")))

    def __str__(self) -> str:
        return ".".join(self.segments)


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """An aggregate projection such as ``count(id)``; its result key is :attr:`key`."""

    function: str
    path: Path

    def __post_init__(self) -> None:
        if self.function not in AGGREGATE_FUNCTIONS:
            raise ValueError(f"aggregate function must be one of {AGGREGATE_FUNCTIONS}, not {self.function!r}")

    @property
    def key(self) -> str:
        """The key of the aggregate in a result row: ``count(id)`` → ``count_id``."""
        return f"{self.function}_{'_'.join(self.path.segments)}"


@dataclasses.dataclass(frozen=True)
class Literal:
    """A constant: a string, an int, a finite float, a bool or ``None``."""

    value: str | int | float | bool | None

    def __post_init__(self) -> None:
        value = self.value
        if value is not None and not isinstance(value, (str, int, float)):
            raise ValueError(f"a literal is a str, int, float, bool or None, not {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"a literal number must be finite, not {value!r}")

    def __eq__(self, other: object) -> bool:
        # 1, 1.0 and True are equal in Python; in a query they are different values.
        if not isinstance(other, Literal):
            return NotImplemented
        return type(self.value) is type(other.value) and self.value == other.value

    def __hash__(self) -> int:
        return hash((type(self.value), self.value))


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A bound parameter ``:name``, replaced by a value with :func:`~ftrack_like_api.query.bind`."""

    name: str

    def __post_init__(self) -> None:
        _check_identifier(self.name, "a parameter name")


Value = Union[Literal, Parameter]


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``path operator value``, e.g. ``name like "%_v001"``."""

    path: Path
    operator: Operator
    value: Value


@dataclasses.dataclass(frozen=True)
class Subquery:
    """``select path from Type [where …]``, the right side of ``in``."""

    projection: Path
    entity_type: str
    where: Expression | None = None

    def __post_init__(self) -> None:
        _check_identifier(self.entity_type, "an entity type")


@dataclasses.dataclass(frozen=True)
class Membership:
    """``path in (…)`` or ``path not_in (…)``: a list of values, a subquery or one list parameter."""

    path: Path
    values: tuple[Value, ...] | Subquery | Parameter
    negated: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.values, (tuple, Subquery, Parameter)):
            raise ValueError(f"membership values must be a tuple, a Subquery or a Parameter, not {self.values!r}")


@dataclasses.dataclass(frozen=True)
class Relation:
    """``path has (…)`` through a reference or ``path any (…)`` through a collection.

    ``condition`` is ``None`` for ``any ()``: the collection is not empty.
    """

    path: Path
    quantifier: Quantifier
    condition: Expression | None = None


@dataclasses.dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Expression


@dataclasses.dataclass(frozen=True)
class And:
    """Two or more conditions that must all hold."""

    operands: tuple[Expression, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.operands, tuple) or len(self.operands) < 2:
            raise ValueError("'and' needs a tuple of at least two operands")


@dataclasses.dataclass(frozen=True)
class Or:
    """Two or more conditions of which one must hold."""

    operands: tuple[Expression, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.operands, tuple) or len(self.operands) < 2:
            raise ValueError("'or' needs a tuple of at least two operands")


Expression = Union[Comparison, Membership, Relation, Not, And, Or]
Projection = Union[Path, Aggregate]


@dataclasses.dataclass(frozen=True)
class OrderKey:
    """One key of ``order by``."""

    path: Path
    descending: bool = False


@dataclasses.dataclass(frozen=True)
class Query:
    """A whole query. No projections means the type's default projections."""

    entity_type: str
    projections: tuple[Projection, ...] = ()
    where: Expression | None = None
    group_by: tuple[Path, ...] = ()
    order_by: tuple[OrderKey, ...] = ()
    offset: int | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        _check_identifier(self.entity_type, "an entity type")
        for name in ("offset", "limit"):
            number = getattr(self, name)
            if number is not None and (type(number) is not int or number < 0):
                raise ValueError(f"{name} must be a whole number >= 0, not {number!r}")

    def page(self, offset: int | None, limit: int | None) -> Query:
        """The same query with another ``offset`` and ``limit``."""
        return dataclasses.replace(self, offset=offset, limit=limit)


Node = Union[Query, Subquery, Expression, Projection, OrderKey, Value]


def walk(node: Node) -> Iterator[Node]:
    """Yield ``node`` and every node below it, depth first, parents before children."""
    stack: list[object] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, tuple):
            stack.extend(reversed(current))
        elif dataclasses.is_dataclass(current):
            yield current  # type: ignore[misc]
            stack.extend(reversed([getattr(current, f.name) for f in dataclasses.fields(current)]))
