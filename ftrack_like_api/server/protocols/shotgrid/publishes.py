"""A PublishedFile's publish: the AssetVersion of ours its file hangs under.

ftrack keeps a publish as an Asset (named, of an AssetType, under a context) with numbered
AssetVersions (of a task, by a user), each holding its components: a PublishedFile is such
a component, so its ``entity``, ``task``, ``project``, ``published_file_type`` (the asset's
type: a ``PublishedFileType`` is our AssetType), ``version_number``, ``created_by`` and
``created_at`` are read through its version (the fields marked ``of_version`` in
``mapping.json``).

- A create *without* ``version`` (as tk-core's ``register_publish`` makes one) makes that
  version: under the Asset called by the publish's ``name`` (else its ``code``) of its
  PublishedFileType on its ``entity`` (or its ``project``), found or made, numbered by
  ``version_number`` (the next one when none is given), of its ``task``, by ``created_by``
  (the caller when none is given). It is marked (the metadata key ``shotgrid_publish``), and a
  ShotGrid ``Version`` is an AssetVersion without the mark: so the version made for a publish
  is not a Version (no ``Shotgun_Version_New``), and the PublishedFile's ``version`` reads None.
- A create *with* ``version`` puts the file on that Version; the fields read through it may be
  given only as the Version's own (another value is refused naming the field).
- An update may set ``version`` (the file moves to that Version, and is read through it); the
  other fields read through the version are the version's, refused on an update.

Dependencies: ftrack links versions (``AssetVersionLink``: a version ``uses_versions``), not
components. A ``PublishedFileDependency`` is such a link between the versions of two publishes,
and a PublishedFile's ``upstream_published_files`` / ``downstream_published_files`` are the
PublishedFiles of the versions its version uses / is used in (fields of the kinds ``publish`` and
``publishes``: :func:`published`). A publish made here has a version of its own, so the two are one;
a file on a Version shares that Version's links with the Version's other files.

A mixin of :class:`.calls.Calls` (which holds the backend, the mapping and ``_existing``).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Callable

from ....exceptions import ValidationError
from ....query import ast, render
from ...engine.batch import BatchContext
from .mapping import Field, Mapping, SgType
from .values import wire

if TYPE_CHECKING:
    from .writes import Writes

__all__ = ["Publishing", "published", "published_paths"]

#: Our AssetVersion's attributes a version's row is compared on (for a create given a version).
_VERSION_PATHS = ("version", "date", "task_id", "user_id", "asset.context_id", "asset.type_id", "asset.parent.project_id")


def published_paths(field: Field) -> list[str]:
    """What a ``publish`` / ``publishes`` field reads: the components of the versions it names, and what tells a
    PublishedFile (its locations) and names it."""
    prefix = f"{field.attr}.components." if field.attr else "components."
    return [prefix + p for p in ("id", "name", "component_locations.location_id")]


def published(field: Field, row: dict[str, Any], link: Callable[[Any], dict[str, Any] | None]) -> Any:
    """A ``publish`` field's link (the first PublishedFile of the version), or a ``publishes`` field's links."""
    versions: Any = row  # no attr: the version is the row itself (a Version's published_files)
    for name in field.attr.split(".") if field.attr else ():
        versions = versions.get(name) if isinstance(versions, dict) else None
    versions = [versions] if isinstance(versions, dict) else versions if isinstance(versions, list) else []
    found = [link(c) for v in versions if isinstance(v, dict) for c in v.get("components") or ()]
    links = list({f["id"]: f for f in found if f is not None and f["type"] in field.types}.values())
    return links if field.kind == "publishes" else (links[0] if links else None)


def _is(path: str, value: Any) -> ast.Comparison:
    return ast.Comparison(ast.Path.of(path), ast.Operator.IS, ast.Literal(value))


class Publishing:
    """``_publish``: what a PublishedFile's create or update sets on (or checks against) its version."""

    backend: Any
    mapping: Mapping
    writes: Writes

    if TYPE_CHECKING:

        def _existing(self, batch: BatchContext, sg_type: SgType, number: Any) -> str: ...

        def _check(self, batch: BatchContext, action: str, ours: str) -> None: ...

    def _publish(self, batch: BatchContext, sg_type: SgType, data: dict[str, Any],
                 creating: bool) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
        """(``data`` less the fields read through the version, our data to add: the ``version_id`` of the version made
        for a create given none)."""
        through = {name: f for name, f in sg_type.fields.items() if f.of_version}
        if not through:
            return data, {}
        given = {name: self._ours_of(batch, sg_type, through[name], data[name]) for name in through if name in data}
        rest = {name: value for name, value in data.items() if name not in through}
        if isinstance(data.get("version"), dict):
            if given:
                version = self.mapping.type("Version")
                self._same_as_version(batch, sg_type, self._existing(batch, version, data["version"].get("id")), given)
            return rest, {}
        if not creating:
            if given:
                raise ValidationError(f"{sg_type.name}.{', '.join(given)}: its version's, set when it is made "
                                      "(or give its version with it)", "read_only")  # fmt: skip
            return rest, {}
        if data.get("version", None) is None and "version" in data:
            rest.pop("version")
        return rest, {"version_id": self._own_version(batch, sg_type, given, rest)}

    def _ours_of(self, batch: BatchContext, sg_type: SgType, field: Field, value: Any) -> Any:
        """A field's value as ours: a link as its uuid, a datetime as our wire value."""
        where = f"{sg_type.name}.{field.name}"
        if value is None or field.kind != "entity":
            if field.kind != "entity" and field.data_type == "number" and value is not None and (
                    not isinstance(value, int) or isinstance(value, bool)):  # fmt: skip
                raise ValidationError(f"{where} takes a whole number, not {value!r}", "bad_value")
            return wire(value, "datetime") if field.data_type == "date_time" else value
        if not isinstance(value, dict) or value.get("type") not in field.types:
            raise ValidationError(f"{where} takes {{'type': {' | '.join(field.types)}, 'id'}} or None, not {value!r}", "bad_value")
        return self._existing(batch, self.mapping.type(value["type"]), value.get("id"))

    def _same_as_version(self, batch: BatchContext, sg_type: SgType, version: str, given: dict[str, Any]) -> None:
        """Each field of ``given`` (as ours) is the version's own; an error naming the first that is not."""
        query = ast.Query("AssetVersion", tuple(ast.Path.of(p) for p in _VERSION_PATHS), _is("id", version))
        row = self.backend.reader.query(batch.connection, render(query))["data"][0]
        asset = row.get("asset") or {}
        theirs = {
            "entity": (asset.get("context_id"),),
            "project": ((asset.get("parent") or {}).get("project_id"), asset.get("context_id")),
            "task": (row.get("task_id"),), "created_by": (row.get("user_id"),), "version_number": (row.get("version"),),
            "published_file_type": (asset.get("type_id"),),
            "created_at": (str((row.get("date") or {}).get("value", ""))[:19],),
        }  # fmt: skip
        for name, value in given.items():
            mine = str(value.get("value"))[:19] if isinstance(value, dict) else value
            if mine not in theirs.get(name, (mine,)):
                raise ValidationError(f"{sg_type.name}.{name} is its version's: a {sg_type.name} given a version takes "
                                      f"it as the version has it, not {mine!r}", "bad_value")  # fmt: skip

    def _own_version(self, batch: BatchContext, sg_type: SgType, given: dict[str, Any], rest: dict[str, Any]) -> str:
        """The AssetVersion made for a publish given no version (its uuid): under its asset, found or made."""
        parent = given.get("entity") or given.get("project")
        if parent is None:
            raise ValidationError(f"{sg_type.name}.entity: a {sg_type.name} hangs under its entity or its project; "
                                  "give one (or its version)", "bad_value")  # fmt: skip
        name = next((v.strip() for v in (rest.get("name"), rest.get("code")) if isinstance(v, str) and v.strip()), "publish")
        kind = given.get("published_file_type")
        condition = ast.And((_is("context_id", parent), _is("name", name), _is("type_id", kind)))
        asset = self.writes.first_id(batch, render(ast.Query("Asset", (ast.Path.of("id"),), condition)))
        writer = self.backend.writer
        if asset is None:
            asset = str(uuid.uuid4())
            self._check(batch, "create", "Asset")
            writer.create(batch, "Asset", {"__entity_type__": "Asset", "id": asset, "name": name, "context_id": parent,
                                           "type_id": kind})  # fmt: skip
        key = str(uuid.uuid4())
        values = {"version": given.get("version_number"), "task_id": given.get("task"), "user_id": given.get("created_by"),
                  "date": given.get("created_at")}  # fmt: skip
        self._check(batch, "create", "AssetVersion")
        writer.create(batch, "AssetVersion", {"__entity_type__": "AssetVersion", "id": key, "asset_id": asset,
                                              **{k: v for k, v in values.items() if v is not None}})  # fmt: skip
        version = self.mapping.type("Version")
        if version.marked is not None:  # not a ShotGrid Version: the PublishedFile's own
            self.writes.metadata(batch, version, key, {version.marked[0]: "PublishedFile"}, creating=True)
        return key
