"""Collections of entities that record their changes, and key-value views of mapped ones.

A :class:`Collection` is a list of entities. The first change makes it the entity's
local value and records one update operation that holds the collection itself; later
changes change it in place, so appending 4,000 items is 4,000 list appends, not 4,000
copies. What is sent on ``commit()`` is the collection as it is then.
"""

from __future__ import annotations

from collections.abc import MutableMapping, MutableSequence
from typing import TYPE_CHECKING, Any, Iterable, Iterator, overload

from ..schema import Attribute

if TYPE_CHECKING:
    from .base import Entity

__all__ = ["Collection", "KeyValueMappedCollection"]


class Collection(MutableSequence):  # type: ignore[type-arg]
    """The entities of a collection attribute; no entity appears twice."""

    __slots__ = ("owner", "name", "_items", "_members", "_local")

    def __init__(self, owner: Entity, name: str, items: Iterable[Entity], local: bool = False) -> None:
        self.owner = owner
        self.name = name
        self._items: list[Entity] = []
        self._members: set[int] = set()
        for item in items:
            if id(item) not in self._members:
                self._items.append(item)
                self._members.add(id(item))
        self._local = local

    def _changing(self) -> None:
        if not self._local:
            self._local = True
            old = tuple(self._items)
            from .state import EntityState  # state.py imports this module

            EntityState(self.owner).set_local(self.name, self)
            self.owner.session.record_update(self.owner, self.name, old, self)

    @overload
    def __getitem__(self, index: int) -> Entity: ...
    @overload
    def __getitem__(self, index: slice) -> list[Entity]: ...
    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError("replace items with remove() and insert(), or set the whole collection")

    def __delitem__(self, index: Any) -> None:
        self._changing()
        removed = self._items[index]
        for item in removed if isinstance(removed, list) else [removed]:
            self._members.discard(id(item))
        del self._items[index]

    def insert(self, index: int, value: Entity) -> None:
        self.owner._checked(self.owner.attribute(self.name), [value])
        if id(value) in self._members:
            return
        self._changing()
        self._items.insert(index, value)
        self._members.add(id(value))

    def append(self, value: Entity) -> None:
        self.insert(len(self._items), value)

    def __contains__(self, value: object) -> bool:
        return id(value) in self._members

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Entity]:
        return iter(list(self._items))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Collection):
            return self._items == other._items
        return isinstance(other, (list, tuple)) and self._items == list(other)

    def __repr__(self) -> str:
        return f"Collection({self._items!r})"


class KeyValueMappedCollection(MutableMapping):  # type: ignore[type-arg]
    """A mapped attribute (``metadata``, ``custom_attributes``) read and written by key.

    ``task["custom_attributes"]["fps"] = 25`` changes the value entity for ``fps``;
    ``shot["metadata"]["vendor"] = "acme"`` creates a metadata entry where there is none.
    """

    __slots__ = ("owner", "attribute", "_items")

    def __init__(self, owner: Entity, attribute: Attribute, items: Iterable[Entity]) -> None:
        self.owner = owner
        self.attribute = attribute
        self._items = list(items)

    def _find(self, key: str) -> Entity | None:
        for item in self._items:
            if item[self.attribute.key] == key:
                return item
        return None

    def __getitem__(self, key: str) -> Any:
        item = self._find(key)
        if item is None:
            raise KeyError(f"{self.owner!r} has no {self.attribute.name} entry {key!r}; it has {sorted(self)}")
        return item[self.attribute.value]

    def __setitem__(self, key: str, value: Any) -> None:
        item = self._find(key)
        if item is not None:
            item[self.attribute.value] = value
            return
        target = self.owner.session.types[self.attribute.target]  # type: ignore[index]
        if "parent_id" not in target.schema.attributes:
            raise KeyError(f"{self.owner!r} has no {self.attribute.name} entry {key!r}; it has {sorted(self)}")
        created = self.owner.session.create(
            target.entity_type,
            {"parent_id": self.owner.primary_key[self.owner.schema.primary_key[0]],
             self.attribute.key: key, self.attribute.value: value},
        )  # fmt: skip
        self._items.append(created)
        self._hold()

    def __delitem__(self, key: str) -> None:
        item = self._find(key)
        if item is None:
            raise KeyError(key)
        self.owner.session.delete(item)
        self._items.remove(item)
        self._hold()

    def _hold(self) -> None:
        """The owner's local value of this attribute is the items as they are now."""
        from .state import EntityState  # state.py imports this module

        EntityState(self.owner).set_local(self.attribute.name, tuple(self._items))

    def __iter__(self) -> Iterator[str]:
        return iter([item[self.attribute.key] for item in self._items])

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{k!r}: {self[k]!r}' for k in self)}}}"
