"""The component's id as it is: the server location's structure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .base import Structure

if TYPE_CHECKING:
    from ..entity import Entity

__all__ = ["EntityIdStructure"]


class EntityIdStructure(Structure):
    """The resource identifier is the entity's id."""

    def get_resource_identifier(self, entity: Entity, context: Mapping[str, Any] | None = None) -> str:
        return str(entity["id"])
