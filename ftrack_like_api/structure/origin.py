"""The path a component came from: the origin and unmanaged locations' structure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from .base import Structure

if TYPE_CHECKING:
    from ..entity import Entity

__all__ = ["OriginStructure"]


class OriginStructure(Structure):
    """The resource identifier is the source's, passed through: ``context["source_resource_identifier"]``."""

    def get_resource_identifier(self, entity: Entity, context: Mapping[str, Any] | None = None) -> str:
        source = (context or {}).get("source_resource_identifier")
        if source is None:
            raise ValueError(f"No resource identifier for {entity!r}: the context names no source_resource_identifier")
        return str(source)
