"""Server data → the session's entities, field by field, only for the fields present.

Merging never touches a value changed in the session and not committed: those live
apart (an entity's local values) and keep winning on read until commit or rollback.
Entities that arrive in one answer are grouped by type, so reading an attribute none
of them has fetches it for the whole group in one round trip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

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

    def merge_all(self, items: list[Mapping[str, Any]]) -> list[Entity]:
        """Merge the entities of one answer; they form one group per type."""
        groups: dict[str, list[Entity]] = {}
        return [self.merge(item, groups) for item in items]

    def merge(self, data: Mapping[str, Any], groups: dict[str, list[Entity]] | None = None) -> Entity:
        """The session's entity for ``data``, its server values brought up to date."""
        name = data.get("__entity_type__")
        cls = self.session.types.get(name)  # type: ignore[arg-type]
        if cls is None:
            raise TransportError(f"The server sent an entity of type {name!r}, which its schemas do not have")
        schema = cls.schema
        try:
            key = tuple(data[k] for k in schema.primary_key)
        except KeyError as missing:
            raise TransportError(f"The server sent a {name} without its key {missing.args[0]!r}") from None
        entity = self.session.identity_map.get((name, key))
        if entity is None:
            entity = cls(self.session, dict(zip(schema.primary_key, key)))
            self.session.identity_map.add(entity)
        if groups is not None:
            # An entity belongs to the answer it last came in: its siblings there are
            # the ones a read of a missing attribute fetches along with it.
            group = groups.setdefault(name, [])
            if entity._group is not group:
                group.append(entity)
                entity._group = group
        remote = entity._remote
        attributes = schema.attributes
        for field, value in data.items():
            attribute = attributes.get(field)
            if attribute is None:
                continue
            if attribute.kind is Kind.SCALAR:
                remote[field] = decode_value(value)
            elif attribute.kind is Kind.REFERENCE:
                remote[field] = None if value is None else self.merge(value, groups)
            else:
                remote[field] = tuple(self.merge(item, groups) for item in value or ())
        return entity
