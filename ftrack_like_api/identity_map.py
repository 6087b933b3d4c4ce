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

    def add(self, entity: Entity, identity: Identity | None = None) -> None:
        """Hold ``entity`` (under ``identity`` when the caller knows it already)."""
        self._entities[identity if identity is not None else entity.identity] = entity

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
