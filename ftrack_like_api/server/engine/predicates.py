"""A query's leaf conditions as SQL: comparisons, memberships, and the values they bind.

:class:`Predicates` is the part of :class:`.compiler.Compiler` that turns one condition on one
column — ``is``, ``>``, ``like``, ``in (…)`` — into a SQLAlchemy clause: its value coerced to
what the column stores (a :class:`QueryError` saying why not), text compared without case
(:mod:`.folding`), and, while a shape compiles (:meth:`.Compiler.binding`), each value left as
a named bind parameter of the shape's slot.
"""

from __future__ import annotations

import contextvars
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...exceptions import QueryError
from ...query import ast
from ...schema import Attribute, EntityType
from .folding import fold_text, folded, folds
from .statements import Binding
from .values import coerce_value, describe

__all__ = ["Predicates"]

#: Set while a shape compiles: what it binds (see :meth:`.Compiler.binding`).
_binding: contextvars.ContextVar[Binding | None] = contextvars.ContextVar("ftrack_like_binding", default=None)


class Predicates:
    """Leaf conditions on one column; mixed into :class:`.compiler.Compiler`, which gives the columns."""

    dialect: Any

    if TYPE_CHECKING:

        def column(
            self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute, text: str | None
        ) -> tuple[sa.ColumnElement[Any], Attribute]: ...

        def subquery(self, node: ast.Subquery, text: str | None) -> sa.Select[Any]: ...

    def _compare(
        self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute, node: ast.Comparison, text: str | None
    ) -> sa.ColumnElement[bool]:
        column, scalar = self.column(entity_type, table, attribute, text)
        value, slot = self._value(node.value, text)
        operator = node.operator
        where = f"{entity_type.name}.{attribute.name}"
        if value is None:
            if operator is ast.Operator.IS:
                return column.is_(None)
            if operator is ast.Operator.IS_NOT:
                return column.is_not(None)
            raise QueryError(f"{where}: None can be compared with 'is' and 'is_not' only", text)
        if operator in (ast.Operator.LIKE, ast.Operator.NOT_LIKE):
            pattern = value if isinstance(value, str) else json.dumps(value)
            target = column if scalar.type in ("string", "text", "variable", "json") else sa.cast(column, sa.Text)
            like: Any = pattern if slot is None else self._bind(slot, None, where, pattern, sa.Text())
            if self.dialect.name == "postgresql":  # case-insensitive, as SQLite's LIKE is: both databases agree
                return target.ilike(like) if operator is ast.Operator.LIKE else target.not_ilike(like)
            return target.like(like) if operator is ast.Operator.LIKE else target.not_like(like)
        bound = self.coerce(scalar, value, where, text)
        if slot is not None:
            bound = self._bind(slot, scalar, where, bound, column.type)
        if operator in (ast.Operator.IS, ast.Operator.IS_NOT) and folds(scalar):  # text: without case (folding.py)
            column, bound = folded(column, self.dialect), folded(bound, self.dialect)
        return {
            ast.Operator.IS: lambda: column == bound,
            ast.Operator.IS_NOT: lambda: column != bound,
            ast.Operator.GREATER: lambda: column > bound,
            ast.Operator.LESS: lambda: column < bound,
            ast.Operator.GREATER_OR_EQUAL: lambda: column >= bound,
            ast.Operator.LESS_OR_EQUAL: lambda: column <= bound,
        }[operator]()

    def _member(
        self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute, node: ast.Membership, text: str | None
    ) -> sa.ColumnElement[bool]:
        column, scalar = self.column(entity_type, table, attribute, text)
        where = f"{entity_type.name}.{attribute.name}"
        if isinstance(node.values, ast.Parameter):
            raise QueryError(f"Parameter :{node.values.name} has no value (bind it before running the query)", text)
        clause: sa.ColumnElement[bool]
        if isinstance(node.values, ast.Subquery):
            clause = column.in_(self.subquery(node.values, text))
        else:
            values = [self._value(v, text) for v in node.values]
            present = [(self.coerce(scalar, v, where, text), slot) for v, slot in values if v is not None]
            fold = folds(scalar)  # text: without case (folding.py)
            if fold:
                present = [(fold_text(v) if isinstance(v, str) else v, s) for v, s in present]
            if any(slot is not None for _, slot in present) and len(present) <= self.dialect.long_in_list:
                binds = [v if s is None else self._bind(s, scalar, where, v, column.type) for v, s in present]
                clause = (folded(column, self.dialect).in_([folded(b, self.dialect) for b in binds]) if fold
                          else column.in_(binds))  # fmt: skip
            else:
                binding = _binding.get()
                if binding is not None and any(slot is not None for _, slot in present):
                    binding.reusable = False  # so many values go as one parameter, made from these
                clause = self.dialect.in_values(folded(column, self.dialect) if fold else column, [v for v, _ in present])
            if len(present) < len(values):
                clause = sa.or_(clause, column.is_(None))
        return sa.not_(clause) if node.negated else clause

    def _value(self, value: ast.Value, text: str | None) -> tuple[Any, int | None]:
        """A condition's value, and the slot it fills when a shape is compiling (else None)."""
        if isinstance(value, ast.Parameter):
            binding = _binding.get()
            slot = binding.slot(value) if binding is not None else None
            if slot is not None:
                return binding.values[slot], slot  # type: ignore[union-attr]
        return _literal(value, text), None

    def _bind(
        self, slot: int, attribute: Attribute | None, where: str, value: Any, type_: Any
    ) -> sa.BindParameter[Any]:
        return _binding.get().use(slot, attribute, where, value, type_)  # type: ignore[union-attr]

    def coerce(self, attribute: Attribute, value: Any, where: str, text: str | None = None) -> Any:  # noqa: D102
        """A query value as the column of ``attribute`` stores it, or a QueryError saying why not."""
        try:
            return coerce_value(attribute.type or "string", value)
        except (TypeError, ValueError) as error:
            raise QueryError(f"{where} is {describe(attribute.type)}: {error}", text) from None


def _literal(value: ast.Value, text: str | None) -> Any:
    if isinstance(value, ast.Parameter):
        raise QueryError(f"Parameter :{value.name} has no value (bind it before running the query)", text)
    return value.value
