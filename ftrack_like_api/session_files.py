"""The Session's verbs for files, as ftrack's: components, locations, availability.

::

    component = session.create_component("/renders/sh010.%04d.exr [1001-1100]",
                                          {"version": version, "name": "main"})
    session.pick_location(component)           # the preferred location that holds it all
    session.get_component_availability(component)  # {location id: percent}

:class:`SessionFiles` is a base class of :class:`~ftrack_like_api.session.Session`; the
locations are set up on first use — the built-in ones as ftrack sets them up (origin,
unmanaged, review, server), then every subscriber of
``ftrack.api.session.configure-location`` (a plugin) may set up its own: its
``accessor``, ``structure`` and ``priority``. What a location was given is kept by the
session (:class:`LocationSettings`), with the location itself, for the session's life.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import clique  # type: ignore[import-untyped]

from .accessor.disk import DiskAccessor
from .accessor.server import ServerAccessor
from .entity import Entity, mixin
from .entity.location import OriginLocationMixin, ServerLocationMixin, UnmanagedLocationMixin
from .event.base import Event
from .exceptions import NoResultFoundError
from .folder_tree import read_folder
from .structure.entity_id import EntityIdStructure
from .structure.origin import OriginStructure
from .symbol import NOT_SET, ORIGIN_LOCATION_ID, REVIEW_LOCATION_ID, SERVER_LOCATION_ID, UNMANAGED_LOCATION_ID

if TYPE_CHECKING:
    import threading

    from .event.hub import EventHub
    from .query_result import QueryResult

__all__ = ["CONFIGURE_LOCATION", "FILE_TYPE_FROM_STRING", "LocationSettings", "SessionFiles"]

log = logging.getLogger(__name__)

#: Published (synchronously, once per session) when the locations are set up: ``data["session"]``.
CONFIGURE_LOCATION = "ftrack.api.session.configure-location"
#: Published for each new component: a subscriber may answer the file type of ``data["file_path"]``.
FILE_TYPE_FROM_STRING = "ftrack.api.session.get-file-type-from-string"

#: Review media names ftrack puts in the review location when the location is "auto".
_REVIEW_NAMES = ("ftrackreview-mp4", "ftrackreview-webm", "ftrackreview-image")


class LocationSettings:
    """What one location was given in this session: accessor, structure, priority … and the location."""

    __slots__ = ("location", "accessor", "structure", "priority", "resource_identifier_transformer", "memory")

    def __init__(self, location: Entity) -> None:
        #: Held here so the session keeps the object (and the class a mixin gave it) as long as itself.
        self.location = location
        self.accessor: Any = NOT_SET
        self.structure: Any = NOT_SET
        self.priority: float = 95
        self.resource_identifier_transformer: Any = NOT_SET
        #: A memory location's registrations: component id → resource identifier.
        self.memory: dict[str, str] = {}


class SessionFiles:
    """Components and locations: a base class of the Session."""

    _location_settings: dict[str, LocationSettings] | None = None

    if TYPE_CHECKING:  # what the Session gives these verbs
        _lock: threading.RLock
        event_hub: EventHub

        def query(self, expression: str, page_size: int | None = None, **values: Any) -> QueryResult: ...
        def get(self, entity_type: str, key: Any) -> Entity | None: ...
        def create(self, entity_type: str, data: Mapping[str, Any] | None = None) -> Entity: ...
        def populate(self, entities: Entity | Sequence[Entity], projections: str) -> None: ...
        def call(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]: ...
        def operation_recording(self, enabled: bool) -> contextlib.AbstractContextManager[None]: ...
        def commit(self) -> None: ...

    # --- setting the locations up ------------------------------------------------------------------

    def configure_locations(self) -> bool:
        """Set the locations up, if not done yet in this session; whether it was done now.

        Called on first use; a script need not call it. The built-in locations get
        ftrack's accessors, structures and priorities; then ``configure-location`` is
        published for plugins to set up theirs.
        """
        with self._lock:
            if self._location_settings is not None:
                return False
            self._location_settings = {}  # set now: what the plugins call comes back here
            try:
                builtin = {location["id"]: location for location in self.query(
                    "select name from Location where id in :ids",
                    ids=[ORIGIN_LOCATION_ID, UNMANAGED_LOCATION_ID, REVIEW_LOCATION_ID, SERVER_LOCATION_ID])}  # fmt: skip
            except Exception:
                self._location_settings = None  # the server could not be asked: set up on next use
                raise
            for key, kind, name, priority in (
                (ORIGIN_LOCATION_ID, OriginLocationMixin, "OriginLocation", 100),
                (UNMANAGED_LOCATION_ID, UnmanagedLocationMixin, "UnmanagedLocation", 90),
                (REVIEW_LOCATION_ID, UnmanagedLocationMixin, "UnmanagedLocation", 110),
                (SERVER_LOCATION_ID, ServerLocationMixin, "ServerLocation", 150),
            ):  # fmt: skip
                location = builtin.get(key)
                if location is None:
                    log.warning("the server has no built-in location %s; it is left out", key)
                    continue
                mixin(location, kind, name=name)
                settings = self.location_settings(location)
                settings.priority = priority
                if key == SERVER_LOCATION_ID:
                    settings.accessor, settings.structure = ServerAccessor(self), EntityIdStructure()  # type: ignore[arg-type]
                else:
                    settings.accessor, settings.structure = DiskAccessor(prefix=""), OriginStructure()
            self.event_hub.publish(Event(CONFIGURE_LOCATION, data={"session": self}), synchronous=True)
            return True

    def location_settings(self, location: Entity) -> LocationSettings:
        """What ``location`` was given in this session (set up first if need be); it is kept from now on."""
        self.configure_locations()
        settings = self._location_settings
        assert settings is not None
        found = settings.get(location["id"])
        if found is None:
            found = settings[location["id"]] = LocationSettings(location)
        return found

    def forget_locations(self) -> None:
        """Let go of what the locations were given: they are set up again on next use (``reset`` calls this)."""
        with self._lock:
            self._location_settings = None

    def _get_locations(self, filter_inaccessible: bool = True) -> list[Entity]:
        """Every location, preferred first; with ``filter_inaccessible``, only those with an accessor."""
        self.configure_locations()
        locations = self.query("Location").all()
        if filter_inaccessible:
            locations = [location for location in locations if location.accessor]  # type: ignore[attr-defined]
        return sorted(locations, key=lambda location: location.priority)  # type: ignore[attr-defined, no-any-return]

    # --- picking -----------------------------------------------------------------------------------

    def pick_location(self, component: Entity | None = None) -> Entity | None:
        """The preferred location this session can reach, that holds all of ``component`` when one is given; or None."""
        if component is not None:
            return self.pick_locations([component])[0]
        locations = self._get_locations()
        return locations[0] if locations else None

    def pick_locations(self, components: Sequence[Entity]) -> list[Entity | None]:
        """For each of ``components``, the preferred reachable location that holds any of it, or None."""
        candidates = self._get_locations()
        picked: list[Entity | None] = []
        for availability in self.get_component_availabilities(components, locations=candidates):
            picked.append(next((c for c in candidates if availability.get(c["id"], 0.0) > 0.0), None))
        return picked

    def get_component_availability(self, component: Entity, locations: Sequence[Entity] | None = None) -> dict[str, float]:
        """How much of ``component`` each location (all, or ``locations``) holds: ``{location id: percent}``."""
        return self.get_component_availabilities([component], locations=locations)[0]

    def get_component_availabilities(self, components: Sequence[Entity],
                                     locations: Sequence[Entity] | None = None) -> list[dict[str, float]]:  # fmt: skip
        """For each of ``components``, ``{location id: percent}`` over every location (or ``locations``).

        A container or sequence is as available as the share of its members that are;
        a component without members is 100 where it is registered, else 0. One query
        per kind of component, however many are asked about.
        """
        if locations is None:
            locations = self.query("Location").all()
        plain = [c for c in components if "members" not in c.schema.attributes]
        containers = [c for c in components if "members" in c.schema.attributes]
        holding = {id(c) for c in containers}
        if plain:
            self.populate(plain, "component_locations.location_id")
        if containers:
            self.populate(containers, "members, component_locations.location_id")
        availabilities = []
        for component in components:
            availability = dict.fromkeys((location["id"] for location in locations), 0.0)
            members = list(component["members"]) if id(component) in holding else []
            if members:
                for member_availability in self.get_component_availabilities(members, locations=locations):
                    for key, ratio in member_availability.items():
                        availability[key] += ratio / len(members)
            else:
                for component_location in component["component_locations"] or ():
                    if component_location["location_id"] in availability:
                        availability[component_location["location_id"]] = 100.0
            availabilities.append({key: max(0.0, min(round(value, 9), 100.0)) for key, value in availability.items()})
        return availabilities

    def get_component_locations(self, component: Entity) -> list[Entity]:
        """The locations that hold all of ``component``, preferred first."""
        locations = self._get_locations(filter_inaccessible=False)
        availability = self.get_component_availability(component, locations=locations)
        return [location for location in locations if availability[location["id"]] >= 100.0]

    # --- making components --------------------------------------------------------------------------

    def create_component(self, path: str | os.PathLike[str], data: Mapping[str, Any] | None = None,
                         location: Entity | str | None = "auto") -> Entity:  # fmt: skip
        """A component for the file, folder or sequence at ``path``, added to ``location``.

        ``path`` is a file (a ``FileComponent``), a folder (a ``ContainerComponent`` whose
        members are its files and, for each folder inside it, a ``ContainerComponent`` of
        its own, all the way down; links to folders, pipes and devices are refused), or a
        sequence in clique's notation, ``/renders/sh010.%04d.exr [1001-1100]`` (a
        ``SequenceComponent`` with a ``FileComponent`` member per frame, named by its number). ``data`` is for the
        component (``version``, ``name`` …); ``size`` and ``file_type`` are filled in.
        ``location`` "auto" is the preferred location (the review location for ftrack's
        review media names); None adds it nowhere but the origin. Adding to a
        location commits.
        """
        path = os.fspath(path)
        values = dict(data or {})
        if location == "auto":
            location = self.get("Location", REVIEW_LOCATION_ID) if values.get("name") in _REVIEW_NAMES else self.pick_location()
        target = location if isinstance(location, Entity) else None
        if os.path.isdir(path):
            return self._create_folder_component(path, values, target)
        try:
            collection = clique.parse(path)
        except ValueError:
            values.setdefault("size", _size(path))
            values.setdefault("file_type", self._file_type(path))
            return self._create_component("FileComponent", path, values, target)
        return self._create_sequence_component(collection, values, target)

    def _create_sequence_component(self, collection: Any, values: dict[str, Any], location: Entity | None) -> Entity:
        frames = list(collection)
        if values.get("size") is not None:
            each = round(values["size"] / len(frames)) if frames else 0
            sizes = dict.fromkeys(frames, each)
        else:
            sizes = {frame: _size(frame) for frame in frames}
            values["size"] = sum(sizes.values())
        container_path = collection.format("{head}{padding}{tail}")
        file_type = self._file_type(container_path)
        values.setdefault("padding", collection.padding)
        values.setdefault("file_type", file_type)
        sequence = self._create_component("SequenceComponent", container_path, values, None)
        for frame in frames:
            data = {"name": collection.match(frame).group("index"), "container": sequence, "size": sizes[frame],
                    "file_type": file_type}  # fmt: skip
            self._add_member(sequence, self._create_component("FileComponent", frame, data, None))
        if location is not None:
            location.add_component(sequence, self.get("Location", ORIGIN_LOCATION_ID), recursive=True)  # type: ignore[attr-defined]
        return sequence

    def _create_folder_component(self, path: str, values: dict[str, Any], location: Entity | None) -> Entity:
        """A ContainerComponent of the folder, a ContainerComponent inside it for each folder it holds, and so on down.

        Every file is a FileComponent member of its folder's container (named by its name less
        its extension, which is its ``file_type``). The whole tree is read first
        (:func:`~ftrack_like_api.folder_tree.read_folder`): a folder holding what cannot be
        taken is refused before anything is created.
        """
        tree = read_folder(path)
        values.setdefault("name", tree.name)
        values.setdefault("size", tree.size)
        top = self._create_component("ContainerComponent", tree.path, values, None)
        holders = {id(tree): top}  # each folder's container, by the folder
        for folder in tree.walk():  # each folder before the folders it holds
            container = holders[id(folder)]
            for inner in folder.folders:
                data = {"name": inner.name, "file_type": "", "size": inner.size, "container": container}
                holders[id(inner)] = self._create_component("ContainerComponent", inner.path, data, None)
                self._add_member(container, holders[id(inner)])
            for file in folder.files:
                name, file_type = os.path.splitext(file.name)
                data = {"name": name, "file_type": file_type, "size": file.size, "container": container}
                self._add_member(container, self._create_component("FileComponent", file.path, data, None))
        if location is not None:
            location.add_component(top, self.get("Location", ORIGIN_LOCATION_ID), recursive=True)  # type: ignore[attr-defined]
        return top

    def _add_member(self, container: Entity, member: Entity) -> None:
        # The member names its container; the container's list is filled here too (not sent: it is the same fact).
        with self.operation_recording(False):
            container["members"].append(member)

    def _create_component(self, entity_type: str, path: str, data: Mapping[str, Any], location: Entity | None) -> Entity:
        """A component of ``entity_type`` whose data is at ``path``: registered in the origin, added to ``location``."""
        component = self.create(entity_type, data)
        origin = self.get("Location", ORIGIN_LOCATION_ID)
        origin.add_component(component, path, recursive=False)  # type: ignore[union-attr]
        if location is not None:
            location.add_component(component, origin, recursive=False)  # type: ignore[attr-defined]
        return component

    def _file_type(self, path: str) -> str:
        """``.exr`` for ``…/plate.exr`` — or what a subscriber of get-file-type-from-string answers."""
        answers = self.event_hub.publish(Event(FILE_TYPE_FROM_STRING, data={"file_path": path}), synchronous=True)
        return next((str(answer) for answer in answers if answer), None) or os.path.splitext(path)[1]

    def get_upload_metadata(self, component_id: str, file_name: str, file_size: int, checksum: str | None = None) -> dict[str, Any]:
        """Where and how to upload the file of ``component_id``: ``{"url", "headers", "component_id"}``, as ftrack's.

        ``checksum`` is the base64 MD5 of the file (``Content-MD5``). Our client's own
        transfers go through ``session.transport.files()`` instead.
        """
        operation = {"action": "get_upload_metadata", "component_id": component_id, "file_name": file_name,
                     "file_size": file_size, "checksum": checksum}  # fmt: skip
        return self.call([operation])[0]  # type: ignore[no-any-return]

    def encode_media(self, media: str | os.PathLike[str] | Entity, version_id: str | None = None,
                     keep_original: bool | str = "auto") -> Entity:  # fmt: skip
        """A new ``Job`` in which the server encodes ``media`` for review, as ftrack's ``encode_media``.

        ``media`` is a path (uploaded to the server location first, and committed) or a
        ``FileComponent`` in the server location. The job's ``data`` (JSON text) names the
        source and the components to come (``output``: ``format`` and ``component_id``);
        once ``done`` they are its ``job_components``. With ``version_id`` they belong to
        that version (its thumbnail set). ``keep_original`` "auto" keeps a component and
        removes a path's upload once encoded. The server needs ffmpeg (``docs/howto/encode-media.rst``).
        """
        if isinstance(media, (str, os.PathLike)):
            keep_original = False if keep_original == "auto" else keep_original
            data = {"version_id": version_id} if keep_original and version_id is not None else None
            component = self.create_component(os.fspath(media), data, location=self.get("Location", SERVER_LOCATION_ID))
            self.commit()  # the component exists on the server before it is encoded
        elif isinstance(media, Entity) and media.entity_type == "FileComponent":
            component = media
            keep_original = True if keep_original == "auto" else keep_original
        else:
            raise ValueError(f"Unable to encode media of type: {type(media)}")
        operation = {"action": "encode_media", "component_id": component["id"], "version_id": version_id,
                     "keep_original": keep_original}  # fmt: skip
        job_id = self.call([operation])[0]["job_id"]
        job = self.get("Job", job_id)
        if job is None:
            raise NoResultFoundError(f"The server made the job {job_id}, and no Job with that id can be read")
        return job


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
