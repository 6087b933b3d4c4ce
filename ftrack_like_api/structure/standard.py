"""Paths from the project's hierarchy: ftrack's ``StandardStructure``.

::

    my_project/sq010/sh010/plate/v003/main.exr          a FileComponent "main", ".exr"
    my_project/sq010/sh010/plate/v003/main.%04d.exr     a SequenceComponent "main", padding 4
    my_project/sq010/sh010/plate/v003/main.1001.exr     its member "1001"
    my_project/sq010/sh010/plate/v003/review            a ContainerComponent "review"
    my_project/sq010/sh010/plate/v003/review/notes.pdf  its member "notes", ".pdf"
    my_project/sq010/sh010/plate/v003/review/stills     a ContainerComponent "stills" in "review"

The parts are the project's name, the names of the contexts between it and the
version (the version's ``link`` less its first and last steps), the asset's name and
the version number; each made safe for a file system.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any, Mapping

from ..exceptions import StructureError
from ..symbol import NOT_SET
from .base import Structure

if TYPE_CHECKING:
    from ..entity import Entity

__all__ = ["StandardStructure"]

_UNSAFE = re.compile(r"[^\w.-]")


class StandardStructure(Structure):
    """Resource identifiers from the project, its contexts, the asset and the version.

    ``project_versions_prefix`` is a folder for versions published right under the
    project (``my_project/<prefix>/asset/v001``). Characters other than letters,
    digits, ``_``, ``.`` and ``-`` become ``illegal_character_substitute`` and names are
    lower-cased; with None, names are kept as they are.
    """

    def __init__(self, project_versions_prefix: str | None = None, illegal_character_substitute: str | None = "_") -> None:
        super().__init__()
        self.project_versions_prefix = project_versions_prefix
        self.illegal_character_substitute = illegal_character_substitute

    def sanitise_for_filesystem(self, value: Any) -> str:
        """``value`` in ASCII, lower case, with awkward characters replaced (unless the substitute is None)."""
        if self.illegal_character_substitute is None:
            return str(value)
        text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
        return _UNSAFE.sub(self.illegal_character_substitute, text).strip().lower()

    def _format_version(self, number: int) -> str:
        return f"v{number:03d}"

    def _get_parts(self, entity: Entity) -> list[str]:
        """The folders of ``entity``'s version: project, contexts, asset, version."""
        session = entity.session
        version = entity["version"]
        if (version is NOT_SET or version is None) and entity["version_id"]:
            version = session.get("AssetVersion", entity["version_id"])
        if not version or version in session.created:
            raise StructureError(f"{entity!r} must belong to a committed version, of an asset with a parent context")
        link = version["link"]
        if not link:
            raise StructureError(f"{entity!r} must belong to a committed version, of an asset with a parent context")
        project = session.get("Project", link[0]["id"])
        names = [step["name"] for step in link[1:-1]]
        parts = [project["name"] if project is not None else link[0]["name"]]
        if names:
            parts.extend(names)
        elif self.project_versions_prefix:
            parts.append(self.project_versions_prefix)
        parts += [version["asset"]["name"], self._format_version(version["version"])]
        return [self.sanitise_for_filesystem(part) for part in parts]

    def get_resource_identifier(self, entity: Entity, context: Mapping[str, Any] | None = None) -> str:
        """Where ``entity`` goes; a StructureError unless its version (and asset, and context) are committed."""
        kind = entity.entity_type
        if kind == "FileComponent":
            container = entity["container"]
            file_name = f"{entity['name']}{entity['file_type'] or ''}"
            if container:
                container_path = self.get_resource_identifier(container)
                if container.entity_type == "SequenceComponent":
                    folder = container_path.rpartition(self.path_separator)[0]
                    parts = [folder, self.sanitise_for_filesystem(f"{container['name']}.{file_name}")]
                else:
                    parts = [container_path, self.sanitise_for_filesystem(file_name)]
            else:
                parts = self._get_parts(entity) + [self.sanitise_for_filesystem(file_name)]
        elif kind == "SequenceComponent":
            name = self.sanitise_for_filesystem(entity["name"])
            file_type = self.sanitise_for_filesystem(entity["file_type"] or "")
            parts = self._get_parts(entity) + [f"{name}.{self._get_sequence_expression(entity)}{file_type}"]
        elif kind == "ContainerComponent":
            container = entity["container"]  # a folder inside a folder goes inside its container
            above = [self.get_resource_identifier(container)] if container else self._get_parts(entity)
            parts = above + [self.sanitise_for_filesystem(entity["name"])]
        else:
            raise NotImplementedError(f"No resource identifier for {entity!r}: not a kind of component this structure knows")
        return self.path_separator.join(parts)
