"""An entity's change-state: its server values, its local (uncommitted) values, its answer.

Everything outside the entity package reads and changes that state through an
:class:`EntityState`, as SQLAlchemy's ``InstanceState``::

    state = EntityState(task)
    state.set_local("name", "comp")    # what task["name"] = "comp" holds until commit
    state.remote["name"]                # the server's value, as last merged
    state.commit()                      # the local values become the server's
    state.rollback()                    # or are forgotten

The values live in the entity's own slots and the state is a view over them, made when
asked for: a session holds 100,000 entities, and a second object per entity would cost
32 bytes each (benchmarks/session.py measured it). Two views of one entity see the same
state. The server's values are one tuple laid out as :mod:`.layout` tells (no dict per
entity); :attr:`EntityState.remote` reads them by name.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ItemsView, Iterator, Mapping, TypeVar

from .collection import Collection
from .layout import Layout, Shape

if TYPE_CHECKING:
    from .base import Entity

    E = TypeVar("E", bound=Entity)

__all__ = ["EntityState", "NO_LOCAL", "RemoteValues"]

#: The local values of an entity changed in no way: one shared, read-only, empty mapping
#: (a dict per entity would cost 64 bytes each, for the many entities only ever read).
NO_LOCAL: Mapping[str, Any] = MappingProxyType({})


class EntityState:
    """The change-state of one entity: server values, local values, and the answer it came in."""

    __slots__ = ("entity",)

    def __init__(self, entity: Entity) -> None:
        self.entity = entity

    @staticmethod
    def new(cls: type[E], data: tuple[Any, ...]) -> E:
        """An entity of ``cls`` holding ``data``: its shape, then the values its layout names.

        How the merge makes the entities of an answer (``cls.__init__`` is not called).
        """
        entity = cls.__new__(cls)
        entity._data = data
        entity._local = NO_LOCAL
        return entity

    @property
    def remote(self) -> Mapping[str, Any]:
        """The server's values, as last merged: a read-only view (change them with :meth:`merge_remote`)."""
        return RemoteValues(self.entity)

    @property
    def local(self) -> Mapping[str, Any]:
        """The values changed in the session and not committed yet."""
        return self.entity._local

    @property
    def shape(self) -> Shape:
        """What the entity shares with the others merged with it: session, layout, answer."""
        return self.entity._data[0]  # type: ignore[no-any-return]

    @property
    def group(self) -> list[Any] | None:
        """The keys of the entities of this type that came in the same answer (None: not from an answer).

        Reading an attribute none of them has fetches it for all of them in one round trip.
        """
        return self.entity._data[0].group  # type: ignore[no-any-return]

    @group.setter
    def group(self, group: list[Any] | None) -> None:
        data = self.entity._data
        self.entity._data = (Shape(data[0].session, data[0].layout, group), *data[1:])

    def value(self, name: str) -> Any:
        """The local value of ``name`` if there is one, else the server's, else ``NOT_SET``."""
        return self.entity._known(name)

    def missing(self, name: str) -> bool:
        """Whether ``name`` has no value here at all: neither fetched nor set."""
        entity = self.entity
        return name not in entity._data[0].index and name not in entity._local

    @property
    def changed(self) -> bool:
        """Whether any value was set here and not committed or rolled back."""
        return self.entity._local is not NO_LOCAL

    def set_local(self, name: str, value: Any) -> None:
        """Hold ``value`` as this session's (uncommitted) value of ``name``."""
        entity = self.entity
        if entity._local is NO_LOCAL:
            entity._local = {}
        entity._local[name] = value  # type: ignore[index]

    def merge_remote(self, values: Mapping[str, Any]) -> None:
        """Take ``values`` as the server's (local values keep winning on read)."""
        if values:
            shape = self.entity._data[0]
            layout = Layout.of(values)
            self.merge_data((shape.moved(layout), *values.values()))

    def merge_data(self, data: tuple[Any, ...]) -> None:
        """Take the values of ``data`` — a shape, then the values its layout names — as the
        server's; the entity takes the shape's session and answer.

        The values it has under other names stay (the layout widens to hold both).
        """
        entity = self.entity
        mine = entity._data
        theirs = data[0].layout
        if mine[0].layout is not theirs:
            wide, gather = mine[0].layout.wider(theirs)
            if wide is not theirs:
                data = (data[0].moved(wide), *data[1:])
            data = gather(mine + data)
        entity._data = data

    def commit(self) -> None:
        """The local values were stored by the server: they become its values; nothing is local any more."""
        entity = self.entity
        if entity._local is NO_LOCAL:
            return
        self.merge_remote({name: tuple(value) if isinstance(value, Collection) else value
                           for name, value in entity._local.items()})  # fmt: skip
        entity._local = NO_LOCAL

    def rollback(self) -> None:
        """Drop every local value: reads go back to the server's."""
        self.entity._local = NO_LOCAL

    def __repr__(self) -> str:
        return f"<EntityState of {self.entity!r}: {len(self.entity._local)} local>"


class RemoteValues(Mapping[str, Any]):
    """An entity's server values, by name: a live, read-only view of its data."""

    __slots__ = ("entity",)

    def __init__(self, entity: Entity) -> None:
        self.entity = entity

    def __getitem__(self, name: str) -> Any:
        data = self.entity._data
        return data[data[0].index[name]]

    def get(self, name: str, default: Any = None) -> Any:
        data = self.entity._data
        position = data[0].index.get(name)
        return default if position is None else data[position]

    def __contains__(self, name: object) -> bool:
        return name in self.entity._data[0].index

    def __iter__(self) -> Iterator[str]:
        return iter(self.entity._data[0].layout.names)

    def __len__(self) -> int:
        return len(self.entity._data) - 1

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        data = self.entity._data
        return dict(zip(data[0].layout.names, data[1:])).items()

    def __repr__(self) -> str:
        return f"RemoteValues({dict(self.items())!r})"
