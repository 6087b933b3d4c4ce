"""The identity map: one entity object per (type, primary key) in a session.

Entities with nothing pending are held weakly, as SQLAlchemy's weak instance dict
holds them: a listener or a shell that walks a 100,000-task project keeps only what it
still refers to, and an entity dropped and asked for again is fetched (or read from the
cache) again. An entity with changes not committed yet is held strongly
(:meth:`IdentityMap.hold`) until its commit or rollback, so no change is lost. A second
object under a key that has a live one is refused.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .entity import Entity

__all__ = ["IdentityMap"]

Identity = tuple[str, tuple[Any, ...]]

#: Dead weak references are swept out once there are this many and they are half the map.
_SWEEP_AFTER = 1024


class IdentityMap:
    """(entity type, primary key values) → the session's one object for that entity.

    Inside, each type has a dict keyed by the bare key value (the key tuple only for
    composite keys), whose values are weak references: no tuple per entity.
    """

    def __init__(self) -> None:
        self._types: dict[str, dict[Any, weakref.ref[Entity]]] = {}
        self._strong: dict[Identity, Entity] = {}
        self._dead = 0  # references known dead since the last sweep
        #: The callback of every weak reference in the map (one bound method for all).
        self.died = self._one_died

    def _one_died(self, reference: weakref.ref[Entity]) -> None:
        # Runs wherever the collector frees the entity, any thread: count only, sweep later.
        self._dead += 1

    def lookup(self, entity_type: str, key: Any) -> Entity | None:
        """The entity of ``entity_type`` keyed by ``key``: the value of a one-column key, else the tuple."""
        entities = self._types.get(entity_type)
        if entities is None:
            return None
        reference = entities.get(key)
        return None if reference is None else reference()

    def of_type(self, entity_type: str) -> dict[Any, weakref.ref[Entity]]:
        """The weak references to the entities of ``entity_type``, by bare key (what a merge reads
        for every row; read only: :meth:`add` and :meth:`discard` change it)."""
        entities = self._types.get(entity_type)
        if entities is None:
            entities = self._types[entity_type] = {}
        return entities

    def get(self, identity: Identity) -> Entity | None:
        """The entity known by ``identity``, or None (never seen, or dropped since)."""
        key = identity[1]
        return self.lookup(identity[0], key[0] if len(key) == 1 else key)

    def add(self, entity: Entity, identity: Identity | None = None) -> None:
        """Hold ``entity`` weakly (under ``identity`` when the caller knows it already).

        A ValueError if another object is in the map under that identity.
        """
        entity_type, key = identity if identity is not None else entity.identity
        bare = key[0] if len(key) == 1 else key
        entities = self._types.get(entity_type)
        if entities is None:
            entities = self._types[entity_type] = {}
        reference = entities.get(bare)
        if reference is not None:
            known = reference()
            if known is entity:
                return
            if known is not None:
                raise ValueError(f"{known!r} is in this session already; a second object for {entity_type} {key} is refused")
        entities[bare] = weakref.ref(entity, self.died)
        self.grew()

    def put(self, entities: dict[Any, weakref.ref[Entity]], bare: Any, entity: Entity) -> None:
        """Hold ``entity`` weakly under ``bare`` in ``entities`` (what :meth:`of_type` gave for its
        type), where the caller found no live entity: the merge's :meth:`add`, its look-up done."""
        entities[bare] = weakref.ref(entity, self.died)
        self.grew()

    def grew(self) -> None:
        """After keys were put: sweep the dead references out once there are many (a caller
        may also put ``weakref.ref(entity, self.died)`` straight into a dict :meth:`of_type`
        gave, then call this once; a sweep keeps those dicts, so they stay the map's)."""
        if self._dead > _SWEEP_AFTER and self._dead * 2 > sum(map(len, self._types.values())):
            self._sweep()

    def hold(self, entity: Entity) -> None:
        """Hold ``entity`` strongly too: it has changes not committed yet."""
        self._strong[entity.identity] = entity

    def release(self, identity: Identity) -> None:
        """Hold the entity weakly again: its changes were committed or rolled back."""
        self._strong.pop(identity, None)

    def held(self) -> list[Entity]:
        """The entities held strongly."""
        return list(self._strong.values())

    def discard(self, identity: Identity) -> None:
        """Forget the entity known by ``identity``."""
        self._strong.pop(identity, None)
        entities = self._types.get(identity[0])
        key = identity[1]
        if entities is not None:
            entities.pop(key[0] if len(key) == 1 else key, None)

    def clear(self) -> None:
        self._types.clear()
        self._strong.clear()
        self._dead = 0

    def _sweep(self) -> None:
        """Drop the keys of entities that are gone. Each type's dict is emptied and filled again,
        in place (a dict shrinks only when cleared; a merge may hold it)."""
        for entities in list(self._types.values()):
            alive = {key: reference for key, reference in list(entities.items()) if reference() is not None}
            entities.clear()
            entities.update(alive)
        self._dead = 0

    def __contains__(self, identity: object) -> bool:
        return isinstance(identity, tuple) and self.get(identity) is not None  # type: ignore[arg-type]

    def __len__(self) -> int:
        """How many entities are alive in the map (counted, nothing changed: a merge may be putting
        keys into it from another thread meanwhile)."""
        return sum(1 for entities in list(self._types.values()) for reference in list(entities.values()) if reference() is not None)

    def __iter__(self) -> Iterator[Entity]:
        alive = (reference() for entities in list(self._types.values()) for reference in list(entities.values()))
        return iter([entity for entity in alive if entity is not None])
