"""Entity classes, built at run time from the schemas the server gives.

Each type becomes a subclass of its base type's class (``Task`` of ``TypedContext`` of
``Context``), so ``isinstance(task, session.types["TypedContext"])`` holds; types with
behaviour of their own (``User.start_timer``, ``ProjectSchema.get_statuses``,
``Location.add_component``) get their mixin from ``mixins.py``, and every type with a
``thumbnail_id`` gets ``create_thumbnail``. :func:`mixin` adds a class to one entity, as
ftrack's ``ftrack_api.mixin`` does (the session gives the built-in locations theirs so).
"""

from __future__ import annotations

import threading
from typing import Callable

from ..schema import Schema
from .base import Entity
from .component import CreateThumbnailMixin
from .mixins import MIXINS

__all__ = ["build_types", "mixin"]

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
            mixins = [MIXINS[name]] if name in MIXINS else []
            if "thumbnail_id" in entity_type.attributes and not issubclass(parent, CreateThumbnailMixin):
                mixins.append(CreateThumbnailMixin)
            bases = (*mixins, parent)
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


_MIXING = threading.Lock()


def _slotted(cls: type) -> type:
    """``cls`` itself when it and its bases keep ``__slots__``; else one class with their methods and no ``__dict__``.

    An entity has no ``__dict__``, so a class mixed into one may not add one. A mixin
    written for ftrack's client (which has no slots) is copied flat, most derived last:
    its methods work, but a zero-argument ``super()`` inside them does not.
    """
    chain = [klass for klass in cls.__mro__ if klass is not object]
    if all("__slots__" in vars(klass) for klass in chain):
        return cls
    namespace: dict[str, object] = {}
    for klass in reversed(chain):
        namespace.update({key: value for key, value in vars(klass).items() if key not in ("__dict__", "__weakref__")})
    namespace["__slots__"] = ()
    return type(cls.__name__, (), namespace)


def mixin(entity: Entity, mixin_class: type, name: str | None = None) -> None:
    """Give ``entity`` (this object only) the methods of ``mixin_class``, as ftrack's ``ftrack_api.mixin``.

    The entity's class becomes a subclass of ``mixin_class`` and of the class it had
    (named ``name``, or the two names joined); nothing happens if it is one already.
    One class is made for each pair, however many entities get it.
    """
    cls = type(entity)
    if mixin_class in cls.__mro__:
        return
    with _MIXING:
        made_here: dict[tuple[type, str | None], type] = vars(cls).get("_mixed", None) or {}
        cls._mixed = made_here  # type: ignore[attr-defined]  # kept on the class: gone with it
        made = made_here.get((mixin_class, name))
        if made is None:
            namespace = {"__slots__": (), "__module__": cls.__module__}
            made = type(name or f"{cls.__name__}{mixin_class.__name__}", (_slotted(mixin_class), cls), namespace)
            made_here[(mixin_class, name)] = made
    entity.__class__ = made
