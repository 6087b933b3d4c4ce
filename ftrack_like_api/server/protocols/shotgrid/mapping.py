"""ShotGrid's entity types and fields onto ours: the one reader of ``mapping.json``.

A field is of one *kind*:

- ``id``: the entity's integer id (:mod:`.ids`)
- ``scalar``: one attribute of ours (``code`` is ``name``)
- ``status``: ``status`` by ShotGrid's short code (``ip`` is "In progress")
- ``entity``: a reference, answered as ``{"type", "id", "name"}`` (``name``: the linked type's ``name`` field, a
  scalar or full_name, or a metadata entry when the metadata is read with the link anyway — a Version's ``code``:
  :attr:`SgType.named_by_metadata`)
- ``named``: a reference ShotGrid gives as a name (``sg_asset_type: "Character"``)
- ``metadata``: what our model has no place for, kept under a key of the entity's metadata
- ``thumbnail``: ``image``, read as a signed link to the entity's thumbnail
- ``full_name``: several attributes read as one text joined by spaces (``HumanUser.name``), set
  split at the first space
- ``multi_entity``: links kept as rows of a link type of ours (``through``: its type, the
  columns ``from`` the entity and ``to`` the linked one, fixed ``data``), ``attr`` the collection
  that reads them and ``link`` the reference on each row (none when the collection gives the
  linked entities themselves)
- ``grants``: the projects a user is granted (``HumanUser.projects``): our security roles'
  project grants (``attr`` the user's roles, ``link`` each role's project rows); set, added or
  removed as ``multi_entity_update_mode`` says, as ``ftrack-like user grant`` / ``revoke`` do
- ``password``: written only: sets the user's password (``HumanUser.password_proxy``)
- ``scalar`` with ``blank``: an attribute our model needs (a Task's name) that ShotGrid may leave
  empty: none given (or None, or blank text) stores the ``blank`` text, which reads back as None
- ``file``: an uploaded file, an Attachment (``upload``): ``{"type": "Attachment", "id", "name", "url"}``
- ``path``: a component's file where it lies, by its resource identifier in a location of ours (the
  location ``key``, ``ftrack.unmanaged``, first; a LocalStorage's under its roots): :mod:`.paths`
- ``publish``: a link to the PublishedFile of the AssetVersion our reference ``attr`` names (a
  PublishedFileDependency's, our AssetVersionLink's ``from`` / ``to``); ``publishes``: the PublishedFiles
  of the AssetVersions our collection ``attr`` holds (``upstream_published_files``: its version's
  ``uses_versions``) — ftrack links versions, not components (:mod:`.publishes`)
- ``storage``: the LocalStorage (a location of ours with a root) a component's file lies in
  (``path_cache_storage``): :mod:`.paths`
- ``note_links``: a Note's linked entities as ftrack keeps them, its one ``parent`` (``parent_id`` and
  ``parent_type``): set to the one entity given, read as it unless it is a project (:mod:`.notes`); an
  ``entity`` field with ``through`` (a Note's ``project``) is the parent when a project, else read and
  filtered through the parent (our type: the path to its project)
- ``unserved``: a field ShotGrid has and we keep nothing for: it reads None, and takes no value

A type may be a part of one of ours: ``"where": {"attr": …, "none": true|false}`` on its entry
holds of its entities alone (a ``Reply`` is a Note whose ``in_reply_to_id`` is set, a ``Note``
one whose is not). The condition is in every query of the type (finds, summaries, searches,
the entity an id names, deep-link subqueries), and an entity of ours is answered as the type
whose condition its row meets (links, events): :meth:`Mapping.of_ours` with the row.
``"where": {"located": <a Location's id>, "in": true|false}`` splits our components by whether
they are in that location (an ``Attachment`` is a file in the server location, a
``PublishedFile`` one that is not): a row tells by its ``component_locations``.
``"where": {"marked": <a metadata key>, "in": true|false}`` holds of the entities with (or without)
that metadata entry: a ``Version`` is an AssetVersion not marked as made for a publish; a marked
one is no ShotGrid type at all (:meth:`Mapping.of_ours` answers None), so links to it read None
and the event log leaves it out.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
from typing import Any

from ....exceptions import ValidationError
from ....query import ast
from .apiusers import READ_ONLY

__all__ = ["Field", "Mapping", "SgType", "load_mapping"]


@dataclasses.dataclass(frozen=True)
class Field:
    """One ShotGrid field of a type, and where ours keeps it."""

    name: str
    kind: str
    attr: str | None = None
    types: tuple[str, ...] = ()
    data_type: str | None = None
    key: str | None = None
    target: str | None = None
    read_only: bool = False
    parent: bool = False
    also: str | None = None
    #: For an entity field: the link read when ``attr`` holds none (``asset.parent`` for a Version's project).
    fallback: str | None = None
    values: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    #: For a full_name field: the attributes joined.
    attrs: tuple[str, ...] = ()
    #: For a multi_entity field: the reference on each collected row, and the link rows' type and columns.
    link: str | None = None
    through: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    #: For an entity field: our attributes set beside it when it is set (a Note's ``parent_type``).
    sets: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    #: For a scalar our model needs (a Task's name): what is stored when ShotGrid gives none; it reads as None.
    blank: str | None = None
    #: For a field read through a PublishedFile's version (its entity, task, type …): set on the version a create
    #: makes for it, or (given a version) checked to be the version's own (:mod:`.publishes`).
    of_version: bool = False

    @property
    def sg_data_type(self) -> str:
        """ShotGrid's data type of the field (``schema_field_read``)."""
        if self.kind in ("entity", "publish", "storage"):
            return "entity"
        if self.kind in ("publishes", "note_links"):
            return "multi_entity"
        if self.kind == "status":
            return "status_list"
        if self.kind == "id":
            return "number"
        if self.kind == "thumbnail":
            return "image"
        if self.kind in ("multi_entity", "password"):
            return self.kind
        if self.kind == "grants":
            return "multi_entity"
        if self.kind in ("file", "path"):
            return "url"
        return self.data_type or "text"


@dataclasses.dataclass(frozen=True)
class SgType:
    """A ShotGrid entity type: the type of ours that holds it, and its fields."""

    name: str
    ours: str
    name_field: str
    order_id: tuple[str, ...]
    fields: dict[str, Field]
    defaults: dict[str, Any]
    #: For a type of ours that hangs under an Asset (Version): the asset's name and type.
    asset: dict[str, str] | None = None
    #: For a part of a type of ours: (our attribute, whether it is None in this part) — ``where`` in the mapping.
    where: tuple[str, bool] | None = None
    #: For a part of our components: (a Location's id, whether they are in it) — ``where`` with ``located``.
    located: tuple[str, bool] | None = None
    #: For a part marked in metadata: (the metadata key, whether it is there) — ``where`` with ``marked``.
    marked: tuple[str, bool] | None = None

    @property
    def condition(self) -> ast.Expression | None:
        """What holds of this type's entities among those of ours (None: all of them)."""
        if self.located is not None:
            location, inside = self.located
            there = ast.Relation(ast.Path.of("component_locations"), ast.Quantifier.ANY,
                                 ast.Comparison(ast.Path.of("location_id"), ast.Operator.IS, ast.Literal(location)))  # fmt: skip
            return there if inside else ast.Not(there)
        if self.marked is not None:
            key, inside = self.marked
            there = ast.Relation(ast.Path.of("metadata"), ast.Quantifier.ANY,
                                 ast.Comparison(ast.Path.of("key"), ast.Operator.IS, ast.Literal(key)))  # fmt: skip
            return there if inside else ast.Not(there)
        if self.where is None:
            return None
        attr, none = self.where
        return ast.Comparison(ast.Path.of(attr), ast.Operator.IS if none else ast.Operator.IS_NOT, ast.Literal(None))

    def scoped(self, where: ast.Expression | None) -> ast.Expression | None:
        """``where`` and this type's condition."""
        condition = self.condition
        if condition is None or where is None:
            return where if condition is None else condition
        return ast.And((condition, where))

    def holds(self, row: Any) -> bool:
        """Whether ``row`` (a row of ours holding the ``where`` attribute) is of this type."""
        if self.located is not None:
            places = row.get("component_locations") or ()
            return any(isinstance(p, dict) and p.get("location_id") == self.located[0] for p in places) == self.located[1]
        if self.marked is not None:  # a row without its metadata (a retired one) is taken as unmarked
            marks = row.get("metadata") or ()
            return any(isinstance(m, dict) and m.get("key") == self.marked[0] for m in marks) == self.marked[1]
        return self.where is None or (row.get(self.where[0]) is None) == self.where[1]

    @property
    def named_by_metadata(self) -> Field | None:
        """The metadata field that names a link to this type, when its metadata is read with its links anyway (to tell
        it, a ``marked`` part): a Version's ``code``. A Note's subject is not: its links would cost a statement."""
        named = self.fields.get(self.name_field)
        return named if named is not None and named.kind == "metadata" and self.marked is not None else None

    @property
    def told_by(self) -> str | None:
        """What tells this part of a type of ours from the others: our attribute, or ``component_locations``."""
        if self.marked is not None:
            return "metadata"
        return "component_locations" if self.located is not None else (self.where[0] if self.where else None)

    def field(self, name: str) -> Field:
        """The field called ``name``; a ShotGrid-style error naming it otherwise."""
        found = self.fields.get(name)
        if found is None:
            raise ValidationError(f"{self.name}.{name} doesn't exist", "unknown_field")
        return found


class Mapping:
    """Every ShotGrid type we answer, by its name and by ours; status codes both ways."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.statuses: dict[str, str] = dict(definition["statuses"])
        self.status_codes = {name: code for code, name in self.statuses.items()}
        self.types: dict[str, SgType] = {}
        for name, spec in definition["types"].items():
            fields = {
                field_name: Field(name=field_name, kind=f["kind"], attr=f.get("attr"), types=tuple(f.get("types", ())),
                                  data_type=f.get("data_type"), key=f.get("key"), target=f.get("target"),
                                  read_only=bool(f.get("read_only")), parent=bool(f.get("parent")), also=f.get("also"),
                                  fallback=f.get("or"),
                                  values=_values(f), attrs=tuple(f.get("attrs", ())),
                                  link=f.get("link"), through=dict(f.get("through", {})), sets=dict(f.get("sets", {})),
                                  blank=f.get("blank"), of_version=bool(f.get("of_version")))
                for field_name, f in spec["fields"].items()
            }  # fmt: skip
            told = spec.get("where", {})
            where = (told["attr"], bool(told["none"])) if "attr" in told else None
            located = (told["located"], bool(told["in"])) if "located" in told else None
            marked = (told["marked"], bool(told["in"])) if "marked" in told else None
            self.types[name] = SgType(name, spec["ours"], spec["name"], tuple(spec["order_id"]), fields,
                                      dict(spec.get("defaults", {})), spec.get("asset"), where, located, marked)  # fmt: skip
        self.parts: dict[str, list[SgType]] = {}
        for sg_type in self.types.values():
            self.parts.setdefault(sg_type.ours, []).append(sg_type)
        for ours, parts in self.parts.items():
            if len(parts) > 1 and (any(p.told_by is None for p in parts) or len({p.told_by for p in parts}) != 1):
                raise ValueError(f"The ShotGrid types of our {ours} need a 'where' each, on one attribute")
        self.by_ours = {ours: parts[0] for ours, parts in self.parts.items()}

    def type(self, name: Any) -> SgType:
        """The ShotGrid type called ``name``; a ShotGrid-style error naming it otherwise."""
        found = self.types.get(name) if isinstance(name, str) else None
        if found is None and name == "ApiUser":  # our API keys: find reads them (:mod:`.apiusers`), nothing else
            raise ValidationError(READ_ONLY, "read_only")
        if found is None:
            raise ValidationError(f"Entity type {name!r} doesn't exist (or isn't served here)", "unknown_type")
        return found

    def of_ours(self, ours: str, row: Any = None) -> SgType | None:
        """The ShotGrid type an entity of our type ``ours`` is, if any: of a type of ours several ShotGrid types
        share, the one whose condition ``row`` meets (the first when no row, or it lacks the attribute, is given)."""
        parts = self.parts.get(ours)
        if not parts:
            return None
        if len(parts) > 1 and isinstance(row, dict) and parts[0].told_by in row:
            return next((p for p in parts if p.holds(row)), parts[0])
        if parts[0].marked is not None and isinstance(row, dict) and "metadata" in row and not parts[0].holds(row):
            return None  # an entity of ours no ShotGrid type is (the version made for a publish)
        return parts[0]

    def discriminators(self, ours: str) -> tuple[str, ...]:
        """Our attributes that tell which ShotGrid type an entity of ``ours`` is, if any is (none when only one is and
        it has no mark): ``metadata.key`` for a mark."""
        parts = self.parts.get(ours, [])
        if parts and parts[0].marked is not None:
            return ("metadata.key",)
        return (parts[0].where[0],) if len(parts) > 1 and parts[0].where is not None else ()

    def told_by(self, ours: str) -> str | None:
        """What tells which ShotGrid type an entity of ``ours`` is (or whether it is one): our attribute,
        ``component_locations``, ``metadata``, or None."""
        parts = self.parts.get(ours, [])
        return parts[0].told_by if len(parts) > 1 or (parts and parts[0].marked is not None) else None

    def status_name(self, code: Any) -> str:
        """Our status name for a short code; an error naming the code otherwise."""
        name = self.statuses.get(code) if isinstance(code, str) else None
        if name is None:
            raise ValidationError(f"{code!r} is not a status code here (one of {', '.join(self.statuses)})", "bad_value")
        return name


def _values(spec: dict[str, Any]) -> dict[Any, Any]:
    """A field's fixed values, ShotGrid's to ours; a checkbox's keyed by True and False."""
    values = dict(spec.get("values", {}))
    return {json.loads(k): v for k, v in values.items()} if spec.get("data_type") == "checkbox" else values


def load_mapping() -> Mapping:
    """The mapping shipped beside this module."""
    text = importlib.resources.files(__package__).joinpath("mapping.json").read_text(encoding="utf-8")
    return Mapping(json.loads(text))
