"""Entity classes, built at run time from the schemas the server gives.

Each type becomes a subclass of its base type's class (``Task`` of ``TypedContext`` of
``Context``), so ``isinstance(task, session.types["TypedContext"])`` holds; types with
behaviour of their own (``User.start_timer``, ``ProjectSchema.get_statuses``) get their
mixin from ``mixins.py``.
"""

from __future__ import annotations

from typing import Callable

from ..schema import Schema
from .base import Entity
from .mixins import MIXINS

__all__ = ["build_types"]

#: Given a type's name and the class built for it, the class to use (a plugin's, say).
Construct = Callable[[str, "type[Entity]"], "type[Entity]"]


def build_types(schema: Schema, base: type[Entity] = Entity, construct: Construct | None = None) -> dict[str, type[Entity]]:
    """One class per entity type of ``schema``, by name.

    ``construct`` may replace each class as it is made; subtypes extend the replacement,
    so a mixin given for ``TypedContext`` reaches ``Task`` and ``Shot`` too.
    """
    classes: dict[str, type[Entity]] = {}

    def build(name: str) -> type[Entity]:
        if name not in classes:
            entity_type = schema[name]
            parent = build(entity_type.base) if entity_type.base is not None and entity_type.base in schema else base
            bases = (MIXINS[name], parent) if name in MIXINS else (parent,)
            made: type[Entity] = type(name, bases, {"__slots__": (), "entity_type": name, "schema": entity_type,
                                                    "__module__": "ftrack_like_api.entity.types"})  # fmt: skip
            if construct is not None:
                made = construct(name, made)
                made.entity_type, made.schema = name, entity_type
            classes[name] = made
        return classes[name]

    for entity_type in schema:
        build(entity_type.name)
    return classes
