"""How an entity's server values are stored: one tuple per entity, the names shared.

A session may hold 100,000 entities merged from a handful of query shapes. A dict per
entity repeats the same keys in each (272 bytes for seven values); here the entities
merged with the same attribute names share one :class:`Layout` — the names, in order,
and where each one is — and each holds only a tuple of its values in that order (104
bytes for seven, the shape included). The entities of one answer also share one :class:`Shape`: their
session, their layout, and the keys of that answer's entities of their type (what a
read of a never-fetched attribute fetches along).

An entity's data is one tuple, ``(shape, value, value, …)``: the shape and the values
are swapped together in one assignment, so a reader on another thread never pairs one
entity's layout with another merge's values. A layout's ``index`` gives each name's
position in that tuple (from 1).
"""

from __future__ import annotations

import threading
from operator import itemgetter
from sys import intern
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["EMPTY", "Layout", "Shape"]

#: Given an entity's data and the data merged into it, concatenated: the entity's new data.
Gather = Callable[[tuple[Any, ...]], tuple[Any, ...]]

#: Layouts kept for reuse at most (a program asking for more distinct sets of attribute
#: names than this still works; the extra layouts are simply not shared).
_MAX_LAYOUTS = 10_000
#: Ways to widen a layout, and layouts a shape moved to, remembered at most per layout or
#: shape (a few in practice; past this, they are worked out again each time).
_MAX_REMEMBERED = 256


class Layout:
    """Attribute names in the order an entity's data holds their values; made once per set of names."""

    __slots__ = ("names", "index", "_wider")

    _known: ClassVar[dict[tuple[str, ...], Layout]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, names: tuple[str, ...]) -> None:
        """Use :meth:`of`, which shares one layout per tuple of names."""
        self.names = names
        #: name -> its value's position in an entity's data (0 is the shape).
        self.index: dict[str, int] = {name: position for position, name in enumerate(names, 1)}
        self._wider: dict[Layout, tuple[Layout, Gather]] = {}

    @classmethod
    def of(cls, names: Iterable[str]) -> Layout:
        """The layout of ``names``, in that order (each name once)."""
        key = tuple(names)
        layout = cls._known.get(key)
        if layout is None:
            with cls._lock:
                layout = cls._known.get(key)
                if layout is None:
                    layout = Layout(tuple(intern(name) for name in key))
                    if len(cls._known) < _MAX_LAYOUTS:
                        cls._known[key] = layout
        return layout

    def wider(self, other: Layout) -> tuple[Layout, Gather]:
        """What merging values of ``other`` into data of this layout makes: the layout of both
        sets of names (this one's first), and how to gather its data from ``mine + theirs``.

        The merged values win; the new data's shape is ``theirs[0]``. Worked out once per pair.
        """
        found = self._wider.get(other)
        if found is None:
            names = self.names + tuple(name for name in other.names if name not in self.index)
            wide = Layout.of(names)
            offset = len(self.names) + 1  # where theirs starts in mine + theirs
            positions = [offset] + [offset + other.index[n] if n in other.index else self.index[n] for n in wide.names]
            if len(positions) == 1:  # both empty: itemgetter of one position gives no tuple
                found = (wide, lambda data: (data[offset],))
            else:
                found = (wide, itemgetter(*positions))
            if len(self._wider) < _MAX_REMEMBERED:
                self._wider[other] = found
        return found

    def __repr__(self) -> str:
        return f"Layout{self.names!r}"


#: The layout of an entity that holds no server value.
EMPTY = Layout.of(())


class Shape:
    """What entities merged together share: session, layout, and the keys of their answer.

    ``group`` holds the keys of the entities of one type that came in the same answer
    (None: not from an answer); reading an attribute none of them has fetches it for all.
    """

    __slots__ = ("session", "layout", "index", "group", "_moved")

    def __init__(self, session: Session, layout: Layout = EMPTY, group: list[Any] | None = None) -> None:
        self.session = session
        self.layout = layout
        self.index = layout.index  # read on every attribute read: one step less
        self.group = group
        self._moved: dict[Layout, Shape] | None = None

    def moved(self, layout: Layout) -> Shape:
        """The shape of the same session and group with ``layout`` instead (made once per layout)."""
        if layout is self.layout:
            return self
        moved = self._moved
        if moved is None:
            moved = self._moved = {}
        shape = moved.get(layout)
        if shape is None:
            shape = Shape(self.session, layout, self.group)
            if len(moved) < _MAX_REMEMBERED:
                moved[layout] = shape
        return shape

    def __repr__(self) -> str:
        return f"<Shape {self.layout.names!r}, group of {len(self.group) if self.group is not None else 'none'}>"
