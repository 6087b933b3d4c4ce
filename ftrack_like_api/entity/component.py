"""Components and thumbnails, as ftrack's client gives them.

``component.get_availability()`` says where a component is; ``entity.create_thumbnail(path)``
(on every entity type with a ``thumbnail_id``: projects, shots, tasks, versions, users …)
uploads an image to the server location and makes it the entity's thumbnail.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..symbol import ORIGIN_LOCATION_ID, SERVER_LOCATION_ID

if TYPE_CHECKING:
    from .base import Entity

    _Mixin = Entity
else:
    _Mixin = object

__all__ = ["AssetVersionMixin", "ComponentMixin", "CreateThumbnailMixin"]


class ComponentMixin(_Mixin):
    """What every ``Component`` can do, as ftrack's ``Component``."""

    __slots__ = ()

    def get_availability(self: Entity, locations: Sequence[Entity] | None = None) -> dict[str, float]:
        """How much of this component is in each location (all of them, or ``locations``): ``{location id: percent}``."""
        return self.session.get_component_availability(self, locations=locations)  # type: ignore[attr-defined, no-any-return]


class AssetVersionMixin(_Mixin):
    """Components of a version and its media encoded for review, as ftrack's ``AssetVersion``."""

    __slots__ = ()

    def create_component(self: Entity, path: str | os.PathLike[str], data: Mapping[str, Any] | None = None,
                         location: Entity | str | None = "auto") -> Entity:  # fmt: skip
        """A component of this version for the file at ``path`` (``session.create_component``, its version set)."""
        values = {name: value for name, value in (data or {}).items() if name != "version_id"}
        values["version"] = self
        return self.session.create_component(path, values, location=location)  # type: ignore[attr-defined, no-any-return]

    def encode_media(self: Entity, media: str | os.PathLike[str] | Entity, keep_original: bool | str = "auto") -> Entity:
        """A Job that encodes ``media`` for review into this version (``session.encode_media`` with its id)."""
        return self.session.encode_media(media, version_id=self["id"], keep_original=keep_original)  # type: ignore[attr-defined, no-any-return]


class CreateThumbnailMixin(_Mixin):
    """``create_thumbnail(path)`` for entity types with a ``thumbnail_id``."""

    __slots__ = ()

    def create_thumbnail(self: Entity, path: str | os.PathLike[str], data: Mapping[str, Any] | None = None) -> Entity:
        """Upload the image at ``path`` to the server location and make it this entity's thumbnail; commits.

        ``data`` is for the component (its ``name`` is ``thumbnail`` unless given). The
        image should be small already; the server scales it for each size asked of it.
        """
        values = dict(data or {})
        values["name"] = values.get("name") or "thumbnail"
        session = self.session
        component = session.create_component(os.fspath(path), values, location=None)  # type: ignore[attr-defined]
        origin = session.get("Location", ORIGIN_LOCATION_ID)
        session.get("Location", SERVER_LOCATION_ID).add_component(component, [origin])  # type: ignore[union-attr]
        self["thumbnail_id"] = component["id"]
        session.commit()
        return component  # type: ignore[no-any-return]
