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
state.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from ..symbol import NOT_SET
from .collection import Collection

if TYPE_CHECKING:
    from .base import Entity

__all__ = ["EntityState", "NO_LOCAL"]

#: The local values of an entity changed in no way: one shared, read-only, empty mapping
#: (a dict per entity would cost 64 bytes each, for the many entities only ever read).
NO_LOCAL: Mapping[str, Any] = MappingProxyType({})


class EntityState:
    """The change-state of one entity: server values, local values, and the answer it came in."""

    __slots__ = ("entity",)

    def __init__(self, entity: Entity) -> None:
        self.entity = entity

    @property
    def remote(self) -> Mapping[str, Any]:
        """The server's values, as last merged (read-only by convention: change them with :meth:`merge_remote`)."""
        return self.entity._remote

    @property
    def local(self) -> Mapping[str, Any]:
        """The values changed in the session and not committed yet."""
        return self.entity._local

    @property
    def group(self) -> list[Any] | None:
        """The keys of the entities of this type that came in the same answer (None: not from an answer).

        Reading an attribute none of them has fetches it for all of them in one round trip.
        """
        return self.entity._group

    @group.setter
    def group(self, group: list[Any] | None) -> None:
        self.entity._group = group

    def value(self, name: str) -> Any:
        """The local value of ``name`` if there is one, else the server's, else ``NOT_SET``."""
        entity = self.entity
        return entity._local[name] if name in entity._local else entity._remote.get(name, NOT_SET)

    def missing(self, name: str) -> bool:
        """Whether ``name`` has no value here at all: neither fetched nor set."""
        return name not in self.entity._remote and name not in self.entity._local

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
        self.entity._remote.update(values)

    def commit(self) -> None:
        """The local values were stored by the server: they become its values; nothing is local any more."""
        entity = self.entity
        if entity._local is NO_LOCAL:
            return
        remote = entity._remote
        for name, value in entity._local.items():
            remote[name] = tuple(value) if isinstance(value, Collection) else value
        entity._local = NO_LOCAL

    def rollback(self) -> None:
        """Drop every local value: reads go back to the server's."""
        self.entity._local = NO_LOCAL

    def __repr__(self) -> str:
        return f"<EntityState of {self.entity!r}: {len(self.entity._local)} local>"
