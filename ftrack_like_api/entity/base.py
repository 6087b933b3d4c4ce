"""Entities: one object per (type, primary key) in a session, read and written like a dict.

``task["name"]`` reads an attribute: the value changed in this session if there is
one, else the server's; a value never fetched is fetched (with the same attribute of
every entity that came in the same answer) when the session auto-populates, and is
``NOT_SET`` otherwise. ``task["name"] = "comp"`` changes it and records the change for
the next ``commit()``. ``keys()`` are the type's attributes.
"""

from __future__ import annotations

import datetime
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping

from ..exceptions import AttributeValueError, ImmutableAttributeError, UnknownAttributeError
from ..schema import Attribute, EntityType, Kind, Schema
from ..symbol import NOT_SET, State
from ..wire import Referable
from .collection import Collection, KeyValueMappedCollection
from .layout import Layout
from .state import NO_LOCAL, EntityState

if TYPE_CHECKING:
    from ..session import Session

__all__ = ["Entity"]

_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "text": (str,), "json": (str,), "integer": (int,), "number": (int, float),
    "boolean": (bool,), "datetime": (datetime.datetime,), "date": (datetime.date,),
}  # fmt: skip


class Entity(Referable, MutableMapping):  # type: ignore[type-arg]
    """Base of every entity class; the classes themselves are built from the schemas.

    Its change-state (server and local values) is read and changed from outside through
    :class:`~ftrack_like_api.entity.state.EntityState`; the slots are that state's storage:
    ``_data`` is the shape (session, layout, answer) then the server's values, as
    :mod:`~ftrack_like_api.entity.layout` tells; ``_local`` the values set here. An
    entity has no ``__dict__``: a subclass (a plugin's) declares ``__slots__ = ()`` to keep it so.
    """

    __slots__ = ("_data", "_local", "__weakref__")

    #: The entity type's name (``Task``) and schema; set on each built class.
    entity_type: ClassVar[str] = ""
    schema: ClassVar[EntityType]

    def __init__(self, session: Session, remote: Mapping[str, Any] | None = None) -> None:
        """An entity of ``session`` that came in no answer, with the server values ``remote``.

        Entities merged from the server's answers are made by the merge, without this.
        """
        shape = session.loader.merger.loose
        if remote:
            shape = shape.moved(Layout.of(remote))
            self._data: tuple[Any, ...] = (shape, *remote.values())
        else:
            self._data = (shape,)
        self._local: Mapping[str, Any] = NO_LOCAL

    @property
    def session(self) -> Session:
        """The session this entity belongs to."""
        return self._data[0].session  # type: ignore[no-any-return]

    # --- identity -----------------------------------------------------------------------------

    @property
    def primary_key(self) -> dict[str, Any]:
        """The primary key attributes and their values."""
        return {name: self._known(name) for name in self.schema.primary_key}

    @property
    def identity(self) -> tuple[str, tuple[Any, ...]]:
        """(type, primary key values): what the session's identity map keys this entity by."""
        return (self.entity_type, tuple(self._known(name) for name in self.schema.primary_key))

    def _known(self, name: str) -> Any:
        local = self._local
        if local is not NO_LOCAL and name in local:
            return local[name]
        data = self._data
        position = data[0].index.get(name)
        return NOT_SET if position is None else data[position]

    def wire_reference(self) -> dict[str, Any]:
        """A reference to this entity on the wire: its type and primary key."""
        return {"__entity_type__": self.entity_type, **self.primary_key}

    # --- the mapping ----------------------------------------------------------------------------

    def attribute(self, name: str) -> Attribute:
        """The schema attribute ``name``, or an error naming the close ones."""
        attribute = self.schema.attributes.get(name)
        if attribute is None:
            raise UnknownAttributeError(
                f"{self.entity_type} has no attribute {name!r}{Schema.suggest(name, self.schema.attributes)}"
            )
        return attribute

    def __getitem__(self, name: str) -> Any:
        attribute = self.attribute(name)
        local = self._local
        if local is not NO_LOCAL and name in local:
            value = local[name]
        else:
            data = self._data
            position = data[0].index.get(name)
            if position is None:
                value = self.session.loader.populate_on_read(self, name)
            else:
                value = data[position]
        if value is NOT_SET:
            if attribute.kind in (Kind.COLLECTION, Kind.MAPPED) and self.session.state(self) is State.CREATED:
                value = ()  # a new entity's collections start empty
            else:
                return NOT_SET
        if attribute.kind is Kind.COLLECTION and not isinstance(value, Collection):
            return Collection(self, name, value)
        if attribute.kind is Kind.MAPPED:
            return KeyValueMappedCollection(self, attribute, value)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        attribute = self.attribute(name)
        state = self.session.state(self)
        if attribute.computed:
            raise ImmutableAttributeError(f"{self.entity_type}.{name} is computed by the server and cannot be set")
        if attribute.immutable and state is not State.CREATED:
            raise ImmutableAttributeError(f"{self.entity_type}.{name} is immutable: it can only be set on create")
        if state is State.DELETED:
            raise ImmutableAttributeError(f"{self!r} is deleted in this session; it cannot change")
        if attribute.kind is Kind.MAPPED:
            raise AttributeValueError(f"set {self.entity_type}.{name} by key: entity[{name!r}][key] = value")
        value = self._checked(attribute, value)
        old = self._known(name)
        EntityState(self).set_local(name, value)
        self.session.record_update(self, name, old, value)

    def _checked(self, attribute: Attribute, value: Any) -> Any:
        where = f"{self.entity_type}.{attribute.name}"
        if attribute.kind is Kind.SCALAR:
            if value is None or attribute.type in (None, "variable", "object"):
                return value
            kinds = _SCALAR_TYPES.get(attribute.type, (object,))
            is_bool = isinstance(value, bool)
            if not isinstance(value, kinds) or (is_bool and attribute.type in ("integer", "number")):
                names = " or ".join(k.__name__ for k in kinds)
                raise AttributeValueError(f"{where} takes {names}, not {type(value).__name__} {value!r}")
            if attribute.type == "datetime" and isinstance(value, datetime.datetime) and value.tzinfo is None:
                return value.replace(tzinfo=datetime.timezone.utc)
            return value
        if attribute.kind is Kind.REFERENCE:
            if value is not None and not self._is_a(value, attribute.target):
                raise AttributeValueError(f"{where} takes a {attribute.target}, not {value!r}")
            return value
        items = list(value) if not isinstance(value, (str, bytes, dict)) else None
        if items is None or not all(self._is_a(item, attribute.target) for item in items):
            raise AttributeValueError(f"{where} takes a list of {attribute.target} entities, not {value!r}")
        return Collection(self, attribute.name, items, local=True)

    def _is_a(self, value: Any, type_name: str | None) -> bool:
        if not isinstance(value, Entity):
            return False
        types = self.session.types
        if isinstance(value, types[type_name]):  # type: ignore[index]
            return True
        # An entity of another session (as ftrack's client allows): of the type by its type's name here.
        own = types.get(value.entity_type)
        return own is not None and value.session is not self.session and issubclass(own, types[type_name])  # type: ignore[index]

    def __delitem__(self, name: str) -> None:
        raise ImmutableAttributeError(f"attributes cannot be removed from an entity; set {name!r} to None instead")

    def __iter__(self) -> Iterator[str]:
        return iter(self.schema.attributes)

    def __len__(self) -> int:
        return len(self.schema.attributes)

    def __contains__(self, name: object) -> bool:
        return name in self.schema.attributes

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        name = self._known("name")
        key = ", ".join(str(v) for v in self.identity[1])
        shown = f"{key[:8]}…" if len(key) > 9 else key
        return f"<{self.entity_type} {name!r} {shown}>" if isinstance(name, str) else f"<{self.entity_type} {shown}>"
