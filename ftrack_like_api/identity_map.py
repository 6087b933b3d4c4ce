"""The identity map: one entity object per (type, primary key) in a session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .entity import Entity

__all__ = ["IdentityMap"]

Identity = tuple[str, tuple[Any, ...]]


class IdentityMap:
    """(entity type, primary key values) → the session's one object for that entity."""

    def __init__(self) -> None:
        self._entities: dict[Identity, Entity] = {}

    def get(self, identity: Identity) -> Entity | None:
        return self._entities.get(identity)

    def add(self, entity: Entity) -> None:
        self._entities[entity.identity] = entity

    def discard(self, identity: Identity) -> None:
        self._entities.pop(identity, None)

    def clear(self) -> None:
        self._entities.clear()

    def __contains__(self, identity: object) -> bool:
        return identity in self._entities

    def __len__(self) -> int:
        return len(self._entities)

    def __iter__(self) -> Iterator[Entity]:
        return iter(list(self._entities.values()))
