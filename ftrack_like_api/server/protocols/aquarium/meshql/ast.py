"""meshQL's syntax tree: frozen dataclasses, built by :mod:`.grammar` and read by :mod:`.compiler`."""

from __future__ import annotations

import dataclasses
from typing import Any, Union

__all__ = ["All", "And", "Compare", "Exists", "Expr", "First", "Nested", "Not",
           "Or", "PathView", "Query", "Step", "TypeIs", "Value", "View", "ViewObject"]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Value:
    """A literal (``'x'``, ``3``, ``true``, ``null``, ``[…]``) or an ``@alias`` bound by name."""

    literal: Any = None
    alias: str | None = None


@dataclasses.dataclass(frozen=True)
class All:
    """``*``: every item."""


@dataclasses.dataclass(frozen=True)
class TypeIs:
    """``$Shot``: the item is of this type."""

    name: str


@dataclasses.dataclass(frozen=True)
class Compare:
    """``item.data.name == 'x'``; ``quantifier`` for ``path.vertices[*].type NONE == 'User'``."""

    path: tuple[str, ...]
    op: str
    value: Value
    quantifier: str | None = None
    position: int = 0


@dataclasses.dataclass(frozen=True)
class And:
    items: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Or:
    items: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Not:
    item: Expr


@dataclasses.dataclass(frozen=True)
class Step:
    """One hop of an itinerary: along edges of ``types`` (any: empty) ``direction`` (out, in, both; None: no
    hop, the items themselves), up to ``depth`` edges away; then ``where``; ``offset``/``limit`` (None: all)."""

    direction: str | None = None
    types: tuple[str, ...] = ()
    depth: int = 1
    offset: int = 0
    limit: int | None = None
    where: Expr | None = None
    position: int = 0


@dataclasses.dataclass(frozen=True)
class Exists:
    """A sub-traversal in a filter: the item has a path of ``step`` to an item that passes its filter."""

    step: Step


Expr = Union[All, TypeIs, Compare, And, Or, Not, Exists]


@dataclasses.dataclass(frozen=True)
class PathView:
    """A view of one path: ``item``, ``edge``, ``item.data.name``."""

    path: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Nested:
    """A view of a nested query from each row's item; ``first``: its first answer (``FIRST(…)``)."""

    query: Query
    first: bool = False


@dataclasses.dataclass(frozen=True)
class ViewObject:
    """A view of several named views."""

    fields: tuple[tuple[str, View], ...]


View = Union[PathView, Nested, ViewObject]
First = Nested


@dataclasses.dataclass(frozen=True)
class Query:
    """``# steps [UNIQUE] [SORT path ASC|DESC, … | SORT null] [VIEW view]``; ``sort`` None: the default."""

    steps: tuple[Step, ...]
    unique: bool = False
    sort: tuple[tuple[tuple[str, ...], bool], ...] | None = None
    view: View | None = None
