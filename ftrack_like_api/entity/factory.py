"""Entity classes, built at run time from the schemas the server gives.

Each type becomes a subclass of its base type's class (``Task`` of ``TypedContext`` of
``Context``), so ``isinstance(task, session.types["TypedContext"])`` holds.
"""

from __future__ import annotations

from ..schema import Schema
from .base import Entity

__all__ = ["build_types"]


def build_types(schema: Schema, base: type[Entity] = Entity) -> dict[str, type[Entity]]:
    """One class per entity type of ``schema``, by name."""
    classes: dict[str, type[Entity]] = {}

    def build(name: str) -> type[Entity]:
        if name not in classes:
            entity_type = schema[name]
            parent = build(entity_type.base) if entity_type.base in schema else base
            classes[name] = type(name, (parent,), {"__slots__": (), "entity_type": name, "schema": entity_type,
                                                   "__module__": "ftrack_like_api.entity.types"})  # fmt: skip
        return classes[name]

    for entity_type in schema:
        build(entity_type.name)
    return classes
