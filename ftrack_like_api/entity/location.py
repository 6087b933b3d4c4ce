"""Locations, ftrack's interface: where components' files are, and moving them there.

A location has an ``accessor`` (how its storage is reached), a ``structure`` (where in
it a component goes) and a ``priority`` (lower is preferred when a component is in
several), set by the session for the built-in locations and by plugins for a studio's
own (see docs/howto/locations.rst). ``add_component(component, source)`` copies the
component's data from ``source`` (another location) and registers it here with a
``ComponentLocation``; ``remove_component`` undoes both.

Adding is all or nothing: if any file fails to copy, or the registration fails, every
file this call wrote is removed again, nothing is registered and a
:class:`~ftrack_like_api.exceptions.LocationError` says why (containers it made may
stay, empty). The mixins below change how a location stores what it holds, as
ftrack's do: :class:`MemoryLocationMixin` (registrations in this session only),
:class:`UnmanagedLocationMixin` (files left where they are), :class:`OriginLocationMixin`
(sources are paths) and :class:`ServerLocationMixin` (thumbnail URLs).
"""

from __future__ import annotations

import collections.abc
import logging
from typing import TYPE_CHECKING, Any, Sequence

from ..event.base import Event
from ..exceptions import AccessorError, ComponentInLocationError, ComponentNotInLocationError, LocationError
from ..symbol import COMPONENT_ADDED_TO_LOCATION_TOPIC, COMPONENT_REMOVED_FROM_LOCATION_TOPIC, State

if TYPE_CHECKING:
    from ..session_files import LocationSettings
    from .base import Entity

    _Mixin = Entity
else:
    _Mixin = object

__all__ = ["LocationMixin", "MemoryLocationMixin", "OriginLocationMixin", "ServerLocationMixin", "UnmanagedLocationMixin"]

log = logging.getLogger(__name__)


def _members(component: Entity) -> list[Entity]:
    return list(component["members"]) if "members" in component.schema.attributes else []


def _with_members(components: Sequence[Entity], parents_first: bool) -> list[Entity]:
    """``components`` and, recursively, their members: each container before its members, or after."""
    found: list[Entity] = []
    for component in components:
        members = _with_members(_members(component), parents_first)
        found += [component, *members] if parents_first else [*members, component]
    return found


class LocationMixin(_Mixin):
    """What every ``Location`` can do, as ftrack's ``Location``."""

    __slots__ = ()

    # --- what the session set up (kept by the session, per location) ----------------------------

    def _settings(self: Entity) -> LocationSettings:
        return self.session.location_settings(self)  # type: ignore[attr-defined, no-any-return]

    @property
    def accessor(self) -> Any:
        """How this location's storage is reached (an :class:`~ftrack_like_api.accessor.base.Accessor`), or NOT_SET."""
        return self._settings().accessor

    @accessor.setter
    def accessor(self, value: Any) -> None:
        self._settings().accessor = value

    @property
    def structure(self) -> Any:
        """Where a component goes in it (a :class:`~ftrack_like_api.structure.base.Structure`), or NOT_SET."""
        return self._settings().structure

    @structure.setter
    def structure(self, value: Any) -> None:
        self._settings().structure = value

    @property
    def priority(self) -> float:
        """Lower is preferred when picking a location; 95 unless set."""
        return self._settings().priority  # type: ignore[no-any-return]

    @priority.setter
    def priority(self, value: float) -> None:
        self._settings().priority = value

    @property
    def resource_identifier_transformer(self) -> Any:
        """An object whose ``encode``/``decode`` change resource identifiers on their way to and from the server."""
        return self._settings().resource_identifier_transformer

    @resource_identifier_transformer.setter
    def resource_identifier_transformer(self, value: Any) -> None:
        self._settings().resource_identifier_transformer = value

    def __getattr__(self, name: str) -> Any:
        # A method a mixin brings (get_thumbnail_url) asked for before the locations were set up: set them up.
        if not name.startswith("_") and self.session.configure_locations():  # type: ignore[attr-defined]
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # --- adding ------------------------------------------------------------------------------------

    def add_component(self, component: Entity, source: Any, recursive: bool = True) -> None:
        """Copy ``component``'s data from ``source`` (a location) here and register it; commits.

        A ComponentInLocationError if it is here already; a LocationError, with nothing
        left behind, if its data cannot be copied or registered.
        """
        self.add_components([component], sources=source, recursive=recursive)

    def add_components(self, components: Sequence[Entity], sources: Any, recursive: bool = True) -> None:
        """Copy ``components`` here from ``sources`` (one location, or one per component) and register them; commits.

        With ``recursive``, the members of containers and sequences come too. Nothing
        is copied if any of them is here already (ComponentInLocationError); if a copy
        or the registration fails, what this call wrote is removed and nothing is
        registered (LocationError, with ``details["error"]``).
        """
        if isinstance(sources, str) or not isinstance(sources, collections.abc.Sequence):
            sources = [sources]
        if len(sources) not in (1, len(components)):
            raise ValueError("sources is one location, or one location for each component")
        if not self.structure:
            raise LocationError(f"{self!r} has no structure: a plugin sets location.structure", location=self)
        planned: list[tuple[Entity, Any]] = []
        for index, component in enumerate(components):
            source = sources[0] if len(sources) == 1 else sources[index]
            for each in _with_members([component], parents_first=True) if recursive else [component]:
                planned.append((each, source))
        if not planned:
            return
        everything = [component for component, _ in planned]
        try:
            self._get_resource_identifiers(everything)
        except ComponentNotInLocationError as error:
            missing = {id(component) for component in error.components}
            present = [component for component in everything if id(component) not in missing]
        else:
            present = everything
        if present:
            raise ComponentInLocationError(present, self)

        written: list[str] = []  # resource identifiers of what this call stored, to remove if it fails
        registered: list[tuple[Entity, str]] = []
        try:
            for component, source in planned:
                resource_identifier = self.structure.get_resource_identifier(component, self._get_context(component, source))
                if self._add_data(component, resource_identifier, source):
                    written.append(resource_identifier)
                registered.append((component, resource_identifier))
            transformer = self.resource_identifier_transformer
            identifiers = [transformer.encode(ri, context={"component": c}) if transformer else ri for c, ri in registered]
            self._register_components_in_location([c for c, _ in registered], identifiers)
        except Exception as error:
            self._undo(written)
            if isinstance(error, LocationError):
                raise
            raise LocationError(f"Could not add components to {self!r}: {error}; what was copied is removed again",
                                location=self, error=error, transferred=[]) from error  # fmt: skip
        for component, _ in registered:
            self._publish(COMPONENT_ADDED_TO_LOCATION_TOPIC, component)

    def _undo(self, written: list[str]) -> None:
        for resource_identifier in reversed(written):
            try:
                self.accessor.remove(resource_identifier)
            except Exception:
                log.exception("could not remove %r from %r after a failed add", resource_identifier, self)

    def _publish(self: Entity, topic: str, component: Entity) -> None:
        event = Event(topic, data={"component_id": component["id"], "location_id": self["id"]})
        self.session.event_hub.publish(event, on_error="ignore")

    def _get_context(self, component: Entity, source: Any) -> dict[str, Any]:
        """What the structure may use: where ``component`` is in ``source``."""
        if not source:
            return {}
        try:
            return {"source_resource_identifier": source.get_resource_identifier(component)}
        except ComponentNotInLocationError:
            return {}

    def _add_data(self, component: Entity, resource_identifier: str, source: Any) -> bool:
        """Copy ``component``'s data from ``source`` to ``resource_identifier``; whether something was stored."""
        if not source.accessor:
            raise LocationError(f"The source {source!r} has no accessor", location=source)
        accessor = self.accessor
        if not accessor:
            raise LocationError(f"{self!r} has no accessor: a plugin sets location.accessor", location=self)
        if "members" in component.schema.attributes:
            if component.entity_type == "SequenceComponent" or accessor.exists(resource_identifier):
                return False  # a sequence is its members' files; a folder there already is not ours to remove
            accessor.make_container(resource_identifier)
            return bool(accessor.exists(resource_identifier))  # the server makes no containers: nothing to undo
        try:
            container = accessor.get_container(resource_identifier)
        except AccessorError:
            container = None  # none to make (outside the prefix, say)
        if container is not None:
            accessor.make_container(container)
        if accessor.exists(resource_identifier):
            raise LocationError(f"Data is already stored at {resource_identifier!r} in {self!r}; it is not "
                                "overwritten", location=self)  # fmt: skip
        data = source.accessor.open(source.get_resource_identifier(component), "rb")
        try:
            accessor.write_from(resource_identifier, data, component["size"] or None)
        except BaseException:
            self._undo([resource_identifier])
            raise
        finally:
            data.close()
        return True

    def _register_component_in_location(self, component: Entity, resource_identifier: str) -> None:
        self._register_components_in_location([component], [resource_identifier])

    def _register_components_in_location(self: Entity, components: Sequence[Entity], resource_identifiers: Sequence[str]) -> None:
        """A ComponentLocation for each, committed at once (with whatever else is pending)."""
        made = [self.session.create("ComponentLocation", {"component": c, "location": self, "resource_identifier": r})
                for c, r in zip(components, resource_identifiers)]  # fmt: skip
        try:
            self.session.commit()
        except Exception:
            for component_location in made:
                self.session.delete(component_location)  # created and deleted: never sent
            raise

    # --- removing ----------------------------------------------------------------------------------

    def remove_component(self, component: Entity, recursive: bool = True) -> None:
        """Remove ``component``'s data from here and its registration; commits."""
        self.remove_components([component], recursive=recursive)

    def remove_components(self, components: Sequence[Entity], recursive: bool = True) -> None:
        """Remove ``components`` (and with ``recursive`` their members) from here: data, then registration; commits.

        A ComponentNotInLocationError, with nothing removed, if one of them is not here.
        """
        self.get_resource_identifiers(list(components))
        everything = _with_members(list(components), parents_first=False) if recursive else list(components)
        if recursive:
            self.get_resource_identifiers(everything)
        for component in everything:
            self._remove_data(component)
        self._deregister_components_in_location(everything)
        for component in everything:
            self._publish(COMPONENT_REMOVED_FROM_LOCATION_TOPIC, component)

    def _remove_data(self, component: Entity) -> None:
        if not self.accessor:
            raise LocationError(f"{self!r} has no accessor: a plugin sets location.accessor", location=self)
        if component.entity_type == "SequenceComponent":
            return  # its members are its files
        self.accessor.remove(self.get_resource_identifier(component))

    def _deregister_component_in_location(self, component: Entity) -> None:
        self._deregister_components_in_location([component])

    def _deregister_components_in_location(self: Entity, components: Sequence[Entity]) -> None:
        found = self.session.query("ComponentLocation where location_id is :location and component_id in :components",
                                   location=self["id"], components=[c["id"] for c in components]).all()  # fmt: skip
        for component_location in found:
            self.session.delete(component_location)
        self.session.commit()

    # --- finding -----------------------------------------------------------------------------------

    def get_component_availability(self: Entity, component: Entity) -> float:
        """How much of ``component`` is here, in percent."""
        return self.session.get_component_availability(component, locations=[self])[self["id"]]  # type: ignore[attr-defined, no-any-return]

    def get_component_availabilities(self: Entity, components: Sequence[Entity]) -> list[float]:
        """How much of each of ``components`` is here, in percent."""
        found = self.session.get_component_availabilities(components, locations=[self])  # type: ignore[attr-defined]
        return [availability[self["id"]] for availability in found]

    def get_resource_identifier(self, component: Entity) -> str:
        """Where ``component`` is here; ComponentNotInLocationError if it is not."""
        return self.get_resource_identifiers([component])[0]

    def get_resource_identifiers(self, components: Sequence[Entity]) -> list[str]:
        """Where each of ``components`` is here; ComponentNotInLocationError naming those that are not."""
        found = self._get_resource_identifiers(components)
        transformer = self.resource_identifier_transformer
        if transformer:
            found = [transformer.decode(ri, context={"component": c}) for ri, c in zip(found, components)]
        return found

    def _get_resource_identifiers(self: Entity, components: Sequence[Entity]) -> list[str]:
        """The stored resource identifiers, in one query."""
        ids = list(dict.fromkeys(c["id"] for c in components))
        rows = self.session.query("select component_id, resource_identifier from ComponentLocation "
                                  "where location_id is :location and component_id in :components",
                                  location=self["id"], components=ids).all() if ids else []  # fmt: skip
        stored = {row["component_id"]: row["resource_identifier"] for row in rows}
        missing = [c for c in components if c["id"] not in stored]
        if missing:
            raise ComponentNotInLocationError(missing, self)
        return [stored[c["id"]] for c in components]

    def get_filesystem_path(self, component: Entity) -> str:
        """The file system path of ``component`` here (for accessors that have paths)."""
        return self.get_filesystem_paths([component])[0]

    def get_filesystem_paths(self, components: Sequence[Entity]) -> list[str]:
        """The file system paths of ``components`` here."""
        return [self.accessor.get_filesystem_path(ri) for ri in self.get_resource_identifiers(components)]

    def get_url(self, component: Entity) -> str:
        """A URL that reads ``component`` from here (for accessors that have one)."""
        return self.accessor.get_url(self.get_resource_identifier(component))  # type: ignore[no-any-return]


class MemoryLocationMixin(_Mixin):
    """Registrations kept in this session only, never sent to the server."""

    __slots__ = ()

    def _memory(self) -> dict[str, str]:
        return self._settings().memory  # type: ignore[attr-defined, no-any-return]

    def _register_components_in_location(self, components: Sequence[Entity], resource_identifiers: Sequence[str]) -> None:
        for component, resource_identifier in zip(components, resource_identifiers):
            self._memory()[component["id"]] = resource_identifier

    def _deregister_components_in_location(self, components: Sequence[Entity]) -> None:
        for component in components:
            self._memory().pop(component["id"], None)

    def _get_resource_identifiers(self, components: Sequence[Entity]) -> list[str]:
        memory = self._memory()
        missing = [c for c in components if c["id"] not in memory]
        if missing:
            raise ComponentNotInLocationError(missing, self)
        return [memory[c["id"]] for c in components]


class UnmanagedLocationMixin(_Mixin):
    """Files are left where they are: adding and removing only register."""

    __slots__ = ()

    def _add_data(self, component: Entity, resource_identifier: str, source: Any) -> bool:
        return False

    def _remove_data(self, component: Entity) -> None:
        return None


class OriginLocationMixin(MemoryLocationMixin, UnmanagedLocationMixin):
    """Where a component's data is before it is added anywhere: sources are paths, kept in memory."""

    __slots__ = ()

    def _get_context(self, component: Entity, source: Any) -> dict[str, Any]:
        return {"source_resource_identifier": source} if source else {}


class ServerLocationMixin(_Mixin):
    """The server's storage: thumbnails as well as files."""

    __slots__ = ()

    def _add_data(self, component: Entity, resource_identifier: str, source: Any) -> bool:
        # The server keeps files of components it has (it checks the project's permissions on them):
        # a component made in this session is committed, with what else is pending, before its upload.
        if self.session.state(component) is State.CREATED:
            self.session.commit()
        return super()._add_data(component, resource_identifier, source)  # type: ignore[misc, no-any-return]

    def get_thumbnail_url(self, component: Entity, size: int | None = None) -> str:
        """A URL of ``component``'s image, scaled on the server to fit ``size`` × ``size`` pixels."""
        return self.accessor.get_thumbnail_url(self.get_resource_identifier(component), size)  # type: ignore[attr-defined, no-any-return]
