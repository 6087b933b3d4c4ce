"""Statements kept by query shape: a query's values become bind parameters, its SQL is built once.

A query's *shape* is its text with each quoted string and each bare id taken out into a
slot (``:__v0``, ``:__v1`` …): ``Task where parent_id is 5e0c… limit 100`` on one shot
and on another are one shape, parsed once (:func:`shape`). Compiling a shape
(:meth:`.Compiler.binding`) gives each slot a named bind parameter and records how its
value is turned into what the column stores, so one statement serves every request of
the shape with that request's values (:class:`Prepared`); SQLAlchemy's own compiled
cache then knows the statement too, so its SQL text is made once as well.

What else the SQL depends on is the rest of the key the reader keeps a statement under
(:class:`StatementCache`): the whole template query — paths, operators, the values that
were not taken out, order, offset, limit — and the projects the acting user may see,
exactly, so a statement built for one user's scope never serves another scope.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import re
import threading
from typing import Any, Callable, Hashable

import sqlalchemy as sa

from ...exceptions import QueryError
from ...query import ast, parse
from ...query.build import unquote

__all__ = ["Binding", "Prepared", "StatementCache", "lookups", "shape"]

#: A slot's parameter name is this and its place among the values.
SLOT = "__v"
#: The parameter the current time goes in (``Task.is_open`` compares with it).
NOW = "__now"
#: Shapes :func:`shape` remembers.
SHAPES = 4096

# A value the grammar reads the same wherever it stands: a quoted string, or a bare id
# (a UUID) between the characters that can surround a value.
_VALUE = re.compile(
    r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
    r"|(?<![^\s(,=<>])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![^\s),])",
    re.DOTALL,
)


def shape(text: str) -> tuple[ast.Query, tuple[str, ...]]:
    """(the template query, the values of its slots) for query text.

    A text whose template does not read as the text does (a value glued to a word, a
    parameter of the caller's own) is parsed as it is, with no slots: ``(parse(text), ())``.
    Parse errors are :func:`parse`'s, for the text as written.
    """
    values: list[str] = []

    def take(match: re.Match[str]) -> str:
        found = match.group(0)
        values.append(unquote(found) if found[0] in "\"'" else found)
        return f" :{SLOT}{len(values) - 1} "

    template = _VALUE.sub(take, text)
    query = _template(template, len(values)) if values else None
    if query is None:
        return parse(text), ()
    return query, tuple(values)


@functools.lru_cache(maxsize=SHAPES)
def _template(template: str, count: int) -> ast.Query | None:
    """The query of a template with ``count`` slots, or None when it does not parse so."""
    try:
        query = parse(template)
    except QueryError:
        return None
    found: list[str | None] = []
    for node in ast.walk(query):
        if isinstance(node, ast.Membership) and isinstance(node.values, ast.Parameter):
            found.append(None)  # `in :__v0` would take a list: not a value's place
        elif isinstance(node, ast.Comparison) and isinstance(node.value, ast.Parameter):
            found.append(node.value.name)
        elif isinstance(node, ast.Membership) and isinstance(node.values, tuple):
            found += [v.name for v in node.values if isinstance(v, ast.Parameter)]
    return query if sorted(found, key=str) == sorted(f"{SLOT}{i}" for i in range(count)) else None


@dataclasses.dataclass
class Binding:
    """What compiling one shape bound, recorded while it compiles (:meth:`.Compiler.binding`).

    ``values`` are the slots' values of the request compiling it (checked as they would be
    without slots, so a bad value is refused at once); ``plain`` the related-keys
    subqueries to leave in the SQL (they found too many keys to send as values), or with
    ``resolve`` false, all of them (a statement that reads every row it matches plans as
    well with the subquery: only a limit makes the planner walk the table in key order).
    """

    values: tuple[str, ...]
    plain: frozenset[int] = frozenset()
    resolve: bool = True
    #: Each bind parameter of a slot: (its name, the slot, the attribute whose column takes it or None, where).
    uses: list[tuple[str, int, Any, str]] = dataclasses.field(default_factory=list)
    #: Related-keys subqueries whose keys are sent as values (``__keys0`` …), in order.
    resolutions: list[sa.Select[Any]] = dataclasses.field(default_factory=list)
    #: False when the statement holds something of this request's values only (it is not kept).
    reusable: bool = True
    #: Inside a name whose meaning differs among subtypes: what a value fits decides the SQL there.
    fragile: int = 0

    def slot(self, value: ast.Value) -> int | None:
        """The slot ``value`` stands for, or None."""
        if isinstance(value, ast.Parameter) and value.name.startswith(SLOT) and value.name[len(SLOT) :].isdigit():
            position = int(value.name[len(SLOT) :])
            return position if position < len(self.values) else None
        return None

    def use(self, slot: int, attribute: Any, where: str, value: Any, type_: Any) -> sa.BindParameter[Any]:
        """A new bind parameter for ``slot`` (``value``: this request's, as the column stores it)."""
        if self.fragile:
            self.reusable = False
        name = f"{SLOT}{slot}_{len(self.uses)}"
        self.uses.append((name, slot, attribute, where))
        return sa.bindparam(name, value, type_=type_)


@dataclasses.dataclass
class Prepared:
    """A shape's statements, ready for any request of it.

    ``lookups`` find the keys of its related-keys subqueries (rows of the subquery's number
    and a key; one statement for all when their keys are of one type); ``statements`` by
    the subqueries left in the SQL (usually none); ``extra`` is what the caller keeps
    beside them (the reader: the projection tree).
    """

    uses: tuple[tuple[str, int, Any, str], ...]
    lookups: tuple[sa.Select[Any], ...]
    keys: int
    statements: dict[frozenset[int], sa.Select[Any]]
    extra: Any = None

    @classmethod
    def of(cls, binding: Binding, statement: sa.Select[Any], extra: Any = None) -> Prepared:
        """What ``binding`` recorded while ``statement`` compiled, kept."""
        return cls(tuple(binding.uses), lookups(binding.resolutions), len(binding.resolutions),
                   {binding.plain: statement}, extra)  # fmt: skip

    def parameters(
        self, values: tuple[str, ...], text: str, coerce: Callable[[Any, Any, str, str], Any]
    ) -> dict[str, Any]:
        """The bind parameters for a request's slot ``values``; a value its column cannot take is a QueryError."""
        parameters: dict[str, Any] = {NOW: datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)}
        for name, slot, attribute, where in self.uses:
            value = values[slot]
            parameters[name] = value if attribute is None else coerce(attribute, value, where, text)
        return parameters


def lookups(resolutions: list[sa.Select[Any]]) -> tuple[sa.Select[Any], ...]:
    """Statements giving (number, key) for the first ``__most`` keys of each related-keys subquery:
    one for all when their keys are of one type (a UNION ALL), else one each."""
    branches: dict[type, list[sa.Select[Any]]] = {}
    for number, keys in enumerate(resolutions):
        found = keys.limit(sa.bindparam("__most")).subquery()
        column = found.c[0]
        branch = sa.select(sa.literal(number, sa.Integer).label("number"), column.label("key"))
        branches.setdefault(type(column.type), []).append(branch)
    return tuple(sa.union_all(*group) if len(group) > 1 else group[0] for group in branches.values())  # type: ignore[misc]


class StatementCache:
    """A bounded LRU of :class:`Prepared` statements by key, shared by the threads of a worker.

    ``builds`` counts the statements built (a test's way to see that a shape compiled once).
    """

    def __init__(self, size: int = 1024) -> None:
        if size < 1:
            raise ValueError(f"a statement cache holds at least 1 statement, not {size}")
        self.size = size
        self.builds = 0
        self._entries: collections.OrderedDict[Hashable, Prepared] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Prepared | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, prepared: Prepared) -> None:
        with self._lock:
            self._entries[key] = prepared
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
