"""Server data → the session's entities, field by field, only for the fields present.

Merging never touches a value changed in the session and not committed: those live
apart (an entity's local values) and keep winning on read until commit or rollback.
Entities that arrive in one answer are grouped by type, so reading an attribute none
of them has fetches it for the whole group in one round trip. A group holds its
members' keys, not the members: an entity nobody refers to any more can go.
"""

from __future__ import annotations

from sys import intern
from typing import TYPE_CHECKING, Any, Mapping

from .entity import EntityState
from .exceptions import TransportError
from .schema import Kind
from .wire import decode_value

if TYPE_CHECKING:
    from .entity import Entity
    from .session import Session

__all__ = ["Merger"]


class Merger:
    """Folds wire-format entities into one session's identity map."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._plans: dict[Any, tuple[Any, tuple[str, ...], dict[str, int]]] = {}

    def merge_all(self, items: list[Mapping[str, Any]]) -> tuple[list[Entity], list[Entity]]:
        """Merge the entities of one answer; they form one group per type.

        The entities of the answer, and every entity it changed, nested ones included.
        """
        groups: dict[str, list[Any]] = {}
        merged = [self.merge(item, groups) for item in items]
        lookup = self.session.identity_map.lookup
        touched = [lookup(self._plan(name)[0].entity_type, key) for name, keys in groups.items() for key in keys]
        return merged, touched  # type: ignore[return-value]

    def _plan(self, name: Any) -> tuple[Any, tuple[str, ...], dict[str, int]]:
        """(class, primary key names, field → how to merge it) for one type, worked out once."""
        plan = self._plans.get(name)
        if plan is None:
            cls = self.session.types.get(name)
            if cls is None:
                raise TransportError(f"The server sent an entity of type {name!r}, which its schemas do not have")
            kinds = {a.name: _HOW[a.kind] for a in cls.schema.attributes.values()}
            for key in cls.schema.primary_key:  # unique per entity: nothing to share
                kinds[key] = _UNSHARED
            plan = self._plans[name] = (cls, cls.schema.primary_key, kinds)
        return plan

    def _reference(self, value: Mapping[str, Any], groups: dict[str, list[Any]] | None) -> Entity:
        """A referenced entity; a bare reference to one already known costs a lookup, no merge."""
        cls, key_names, _ = self._plan(value.get("__entity_type__"))
        if len(value) == len(key_names) + 1:
            try:
                key = value[key_names[0]] if len(key_names) == 1 else tuple(value[k] for k in key_names)
            except KeyError:
                key = None
            known = None if key is None else self.session.identity_map.lookup(cls.entity_type, key)
            if known is not None:
                return known
        return self.merge(value, groups)

    def merge(self, data: Mapping[str, Any], groups: dict[str, list[Any]] | None = None) -> Entity:
        """The session's entity for ``data``, its server values brought up to date."""
        name = data.get("__entity_type__")
        cls, key_names, kinds = self._plan(name)
        try:
            key = tuple(data[k] for k in key_names)
        except KeyError as missing:
            raise TransportError(f"The server sent a {name} without its key {missing.args[0]!r}") from None
        values: dict[str, Any] = {}
        for field, value in data.items():
            how = kinds.get(field)
            if how is None:
                continue
            if how == _SCALAR:
                if type(value) is str:
                    # Keys, types and names repeat across thousands of entities: keep one copy.
                    values[field] = intern(value) if len(value) <= _INTERN_UP_TO else value
                elif type(value) is dict:
                    values[field] = decode_value(value)
                else:
                    values[field] = value
            elif how == _UNSHARED:
                values[field] = value
            elif how == _REFERENCE:
                values[field] = None if value is None else self._reference(value, groups)
            else:
                values[field] = tuple(self.merge(item, groups) for item in value or ())
        # An entity belongs to the answer it last came in: its siblings there (their keys:
        # the group holds none of them alive) are what a read of a missing attribute
        # fetches along with it.
        group = None if groups is None else groups.setdefault(name, [])  # type: ignore[arg-type]
        bare = key[0] if len(key) == 1 else key  # the key the map and the group know it by
        entity = self.session.identity_map.lookup(cls.entity_type, bare)
        if entity is None:  # most of a large answer: the values become the new entity's, no copy
            entity = cls(self.session, values, group)
            self.session.identity_map.add(entity, (cls.entity_type, key))  # the class's name: one string for all
            if group is not None:
                group.append(bare)
            return entity
        state = EntityState(entity)
        state.merge_remote(values)
        if group is not None and state.group is not group:
            group.append(bare)
            state.group = group
        return entity


_SCALAR, _REFERENCE, _MANY, _UNSHARED = 0, 1, 2, 3
_HOW = {Kind.SCALAR: _SCALAR, Kind.REFERENCE: _REFERENCE, Kind.COLLECTION: _MANY, Kind.MAPPED: _MANY}
_INTERN_UP_TO = 40
