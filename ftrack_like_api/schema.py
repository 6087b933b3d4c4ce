"""The schema model: entity types, their attributes, keys and relations.

Two sources make one model:

- :meth:`Schema.from_definition` reads our schema format (the server's shipped
  data, ``server/engine/schemas/*.json``), which adds what ftrack's format leaves out:
  the table a type lives in, the classifier that tells polymorphic types apart in
  one table, the keys a reference or collection joins on, link tables, indexes,
  and values the server fills by itself.
- :meth:`Schema.from_ftrack` reads ftrack's ``query_schemas`` answer, as a client
  gets it from any server.

:meth:`Schema.to_ftrack` writes ftrack's format; :attr:`Schema.hash` is a stable
hash of that export, the ``schema_hash`` of ``query_server_information``.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import hashlib
import json
from typing import Any, Iterable, Iterator, Mapping

from .exceptions import SchemaError

__all__ = ["Attribute", "EntityType", "Kind", "ProjectRule", "Schema", "Through"]

#: Scalar types of our format, and how each is written in ftrack's.
SCALAR_TYPES = {
    "string": {"type": "string"},
    "text": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "json": {"type": "string", "format": "json"},
    "variable": {"type": "variable"},
    "object": {"type": "object"},
}


class Kind(enum.Enum):
    """What an attribute holds."""

    SCALAR = "scalar"
    REFERENCE = "reference"  # one entity
    COLLECTION = "collection"  # many entities
    MAPPED = "mapped"  # many key-value entities, read as a mapping (metadata, custom attributes)


@dataclasses.dataclass(frozen=True)
class Through:
    """A collection reached through a link type: ``link.local`` holds our key, ``link.remote`` theirs."""

    type: str
    local: str
    remote: str


@dataclasses.dataclass(frozen=True)
class Attribute:
    """One attribute of an entity type."""

    name: str
    kind: Kind
    #: Scalars: one of :data:`SCALAR_TYPES`.
    type: str | None = None
    #: References, collections and mapped attributes: the related type.
    target: str | None = None
    #: References: our attributes holding the target's key. Collections and mapped:
    #: the target's attributes holding our key.
    via: tuple[str, ...] = ()
    through: Through | None = None
    #: Collections that follow a tree: the attribute holding the parent's key (``parent_id``),
    #: walked ``up`` (ancestors) or ``down`` (descendants) as far as it goes.
    recursive: str | None = None
    direction: str = "up"
    #: Collections: the target's attribute values that select the items (e.g. type=assignment).
    where: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Mapped attributes: the target's attributes that are the key and the value.
    key: str = "key"
    value: str = "value"
    #: Scalars that hold another type's key: that type (``format: foreign_key``).
    references: str | None = None
    #: Whether storage backs ``references`` with a database constraint (not where one
    #: column holds keys of several types, as custom attribute values do).
    foreign_key: bool = True
    default: Any = dataclasses.field(default=None)
    has_default: bool = False
    #: Whether ``query_schemas`` announces the default (ftrack's does for few attributes; the
    #: others the server fills on create all the same).
    announce_default: bool = True
    required: bool = False
    immutable: bool = False
    computed: bool = False
    #: Computed attributes: how the server works the value out (see ``server/engine/computed.py``).
    compute: str | None = None
    index: bool = False
    unique: bool = False
    #: Stored and usable in queries, left out of the ftrack export.
    hidden: bool = False
    #: What the server fills when a create leaves it out: "now", "user", "sort" or a rule name.
    fill: str | None = None
    #: For a scalar that references another type: what deleting that entity does here
    #: ("cascade" deletes this entity too, "set null" forgets the reference; default: refuse).
    on_delete: str | None = None

    def to_ftrack(self, schema: Schema) -> dict[str, Any]:
        """This attribute as a property of ftrack's ``query_schemas``."""
        if self.kind is Kind.SCALAR:
            written: dict[str, Any] = dict(SCALAR_TYPES[self.type or "string"])
            if self.references:
                target = schema.types.get(self.references)
                key = target.primary_key[0] if target else "id"
                written.update(format="foreign_key", description=f"Foreign key(s): {self.references}.{key}")
            if self.has_default and self.announce_default:
                written["default"] = self.default
            return written
        if self.kind is Kind.REFERENCE:
            return {"$ref": self.target}
        if self.kind is Kind.COLLECTION:
            return {"type": "array", "items": {"$ref": self.target}}
        return {
            "type": "mapped_array",
            "items": {"$ref": self.target},
            "key_value_attributes": {"key": self.key, "value": self.value},
        }


@dataclasses.dataclass(frozen=True)
class ProjectRule:
    """How a row of a type leads to the project it belongs to (project permissions use it).

    Either ``path``, references followed to a project's id (``asset.parent.project_id``),
    or a polymorphic ``key`` that may hold the key of a row of type ``within``: the row
    then belongs to that row's project. A row whose path leads nowhere belongs to no
    project and is studio-wide.
    """

    path: tuple[str, ...] = ()
    key: str | None = None
    within: str | None = None

    @classmethod
    def parse(cls, spec: Any) -> ProjectRule:
        if isinstance(spec, str) and spec:
            return cls(path=tuple(spec.split(".")))
        if isinstance(spec, Mapping) and isinstance(spec.get("key"), str) and isinstance(spec.get("in"), str):
            return cls(key=spec["key"], within=spec["in"])
        raise SchemaError(f"A project rule is a path or {{'key': …, 'in': Type}}, not {spec!r}")


@dataclasses.dataclass(frozen=True)
class EntityType:
    """An entity type: its attributes (inherited ones included), keys and storage."""

    name: str
    attributes: Mapping[str, Attribute]
    primary_key: tuple[str, ...]
    default_projections: tuple[str, ...] = ()
    system_projections: tuple[str, ...] = ()
    #: The type this one extends, if any.
    base: str | None = None
    abstract: bool = False
    table: str | None = None
    #: Column values that tell this type's rows apart in a shared table (inherited ones included).
    classifier: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: The classifier this type adds to its base's, exported as ftrack's ``alias_for``.
    own_classifier: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: Indexes over several columns, for the filters and orders that are common together.
    indexes: tuple[tuple[str, ...], ...] = ()
    #: How its rows lead to their project (none: the type is studio-wide).
    project: tuple[ProjectRule, ...] = ()
    #: Stored and used by the server (a link type behind a collection), left out of ``query_schemas``.
    hidden: bool = False

    def attribute(self, name: str) -> Attribute | None:
        return self.attributes.get(name)

    @functools.cached_property
    def scalars(self) -> tuple[Attribute, ...]:
        """The stored scalar attributes (computed ones are not stored)."""
        return tuple(a for a in self.attributes.values() if a.kind is Kind.SCALAR and not a.computed)

    def to_ftrack(self, schema: Schema) -> dict[str, Any]:
        """This type as one object of ftrack's ``query_schemas``."""
        visible = [a for a in self.attributes.values() if not a.hidden]
        written: dict[str, Any] = {
            "id": self.name,
            "type": "object",
            "primary_key": list(self.primary_key),
            "properties": {a.name: a.to_ftrack(schema) for a in visible},
            "required": [a.name for a in visible if a.required],
            "immutable": [a.name for a in visible if a.immutable],
            "default_projections": list(self.default_projections),
        }
        computed = [a.name for a in visible if a.computed]
        if computed:
            written["computed"] = computed
        if self.system_projections:
            written["system_projections"] = list(self.system_projections)
        if self.base and self.own_classifier:
            written["alias_for"] = {"id": self.base, "classifiers": dict(self.own_classifier)}
        return written


class Schema:
    """All entity types, by name."""

    def __init__(self, types: Iterable[EntityType]) -> None:
        self.types: dict[str, EntityType] = {t.name: t for t in types}
        self._check()
        self._export: list[dict[str, Any]] | None = None
        self._hash: str | None = None

    def __getitem__(self, name: str) -> EntityType:
        try:
            return self.types[name]
        except KeyError:
            raise SchemaError(f"Unknown entity type {name!r}{self.suggest(name, self.types)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.types

    def __iter__(self) -> Iterator[EntityType]:
        return iter(self.types.values())

    def subtypes(self, name: str) -> list[EntityType]:
        """``name`` and every type that extends it, however deep."""
        found = [self[name]]
        for entity_type in self.types.values():
            base = entity_type.base
            while base is not None:
                if base == name:
                    found.append(entity_type)
                    break
                base = self.types[base].base
        return found

    def ancestry(self, name: str) -> list[EntityType]:
        """``name`` and the types it extends, nearest first."""
        chain = [self[name]]
        while chain[-1].base is not None:
            chain.append(self[chain[-1].base])
        return chain

    def concrete(self, name: str, values: Mapping[Any, Any]) -> EntityType:
        """The most specific of ``name`` and its subtypes whose classifier ``values`` (a row) has."""
        family = sorted(self.subtypes(name), key=lambda t: (len(t.classifier), not t.abstract), reverse=True)
        return next((t for t in family if all(values.get(c) == v for c, v in t.classifier.items())), self[name])

    @staticmethod
    def suggest(name: str, choices: Iterable[str]) -> str:
        """``"; did you mean X, Y?"`` for the names in ``choices`` close to ``name``, else ``""``."""
        close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
        return f"; did you mean {', '.join(close)}?" if close else ""

    def to_ftrack(self) -> list[dict[str, Any]]:
        """Every type in ftrack's ``query_schemas`` format, sorted by name."""
        if self._export is None:
            self._export = [self.types[name].to_ftrack(self) for name in sorted(self.types) if not self.types[name].hidden]
        return self._export

    @property
    def hash(self) -> str:
        """The hash of :meth:`to_ftrack` that the official client computes of the schemas it caches
        (``md5`` of ``json.dumps(schemas, sort_keys=True)``), so its schema cache hits."""
        if self._hash is None:  # every session's start asks for it: worked out once
            text = json.dumps(self.to_ftrack(), sort_keys=True)
            self._hash = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
        return self._hash

    # --- reading ------------------------------------------------------------------------

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Schema:
        """Read our schema format: ``{"types": {Name: {...}}}`` with ``extends`` for inheritance."""
        raw = definition.get("types")
        if not isinstance(raw, Mapping) or not raw:
            raise SchemaError("A schema definition needs a non-empty 'types' mapping")
        resolved: dict[str, EntityType] = {}

        def resolve(name: str, chain: tuple[str, ...] = ()) -> EntityType:
            if name in resolved:
                return resolved[name]
            if name in chain:
                raise SchemaError(f"Types extend each other in a circle: {' -> '.join(chain + (name,))}")
            if name not in raw:
                raise SchemaError(f"{chain[-1]} extends unknown type {name!r}")
            spec = raw[name]
            base = resolve(spec["extends"], chain + (name,)) if "extends" in spec else None
            resolved[name] = _entity_type(name, spec, base)
            return resolved[name]

        for name in raw:
            resolve(name)
        return cls(resolved[name] for name in raw)

    @classmethod
    def from_ftrack(cls, schemas: Iterable[Mapping[str, Any]]) -> Schema:
        """Read ftrack's ``query_schemas`` answer (from any server that speaks the protocol)."""
        types = []
        for schema in schemas:
            name = schema["id"]
            required = set(schema.get("required", ()))
            immutable = set(schema.get("immutable", ()))
            computed = set(schema.get("computed", ()))
            attributes = {}
            for attribute_name, prop in schema.get("properties", {}).items():
                attributes[attribute_name] = _from_ftrack_property(
                    name, attribute_name, prop, attribute_name in required, attribute_name in immutable,
                    attribute_name in computed,
                )  # fmt: skip
            alias = schema.get("alias_for")
            classifier = alias.get("classifiers", {}) if isinstance(alias, Mapping) else {}
            base = alias.get("id") if isinstance(alias, Mapping) else None
            if base == name:  # ftrack's Task is an alias of its own table: a classifier, not a base
                base = None
            types.append(
                EntityType(
                    name=name,
                    attributes=attributes,
                    primary_key=tuple(schema["primary_key"]),
                    default_projections=tuple(schema.get("default_projections", ())),
                    system_projections=tuple(schema.get("system_projections", ())),
                    base=base,
                    own_classifier=classifier,
                    classifier=classifier,
                )
            )
        return cls(types)

    # --- checks -------------------------------------------------------------------------

    def _check(self) -> None:
        problems = []
        for entity_type in self.types.values():
            where = entity_type.name
            for key in entity_type.primary_key:
                if key not in entity_type.attributes:
                    problems.append(f"{where}: primary key {key!r} is not an attribute")
            for attribute in entity_type.attributes.values():
                if attribute.target is not None and attribute.target not in self.types:
                    problems.append(f"{where}.{attribute.name}: unknown type {attribute.target!r}")
                if attribute.kind is Kind.REFERENCE and attribute.via:
                    for local in attribute.via:
                        if local not in entity_type.attributes:
                            problems.append(f"{where}.{attribute.name}: joins on unknown attribute {local!r}")
                if attribute.kind in (Kind.COLLECTION, Kind.MAPPED) and attribute.via and attribute.target in self.types:
                    target = self.types[attribute.target]
                    for remote in attribute.via:
                        if remote not in target.attributes:
                            problems.append(f"{where}.{attribute.name}: {target.name} has no attribute {remote!r}")
                if attribute.through is not None and attribute.through.type not in self.types:
                    problems.append(f"{where}.{attribute.name}: unknown link type {attribute.through.type!r}")
        if problems:
            raise SchemaError("The schema is inconsistent:\n  " + "\n  ".join(problems))


def _entity_type(name: str, spec: Mapping[str, Any], base: EntityType | None) -> EntityType:
    attributes: dict[str, Attribute] = dict(base.attributes) if base else {}
    for attribute_name in spec.get("remove", ()):
        attributes.pop(attribute_name, None)
    for attribute_name, attribute_spec in spec.get("attributes", {}).items():
        inherited = attributes.get(attribute_name)
        attributes[attribute_name] = _attribute(name, attribute_name, attribute_spec, inherited)
    for attribute_name, changes in spec.get("override", {}).items():
        if attribute_name not in attributes:
            raise SchemaError(f"{name}: cannot override unknown attribute {attribute_name!r}")
        attributes[attribute_name] = dataclasses.replace(attributes[attribute_name], **_overrides(changes))
    own_classifier = dict(spec.get("classifier", {}))
    classifier = {**(base.classifier if base else {}), **own_classifier}
    inherit = (lambda key, default: spec.get(key, getattr(base, key) if base else default))  # noqa: E731
    return EntityType(
        name=name,
        attributes=attributes,
        primary_key=tuple(inherit("primary_key", ("id",))),
        default_projections=tuple(inherit("default_projections", ("id",))),
        system_projections=tuple(inherit("system_projections", ())),
        base=base.name if base else None,
        abstract=bool(spec.get("abstract", False)),
        table=spec.get("table", base.table if base else _table_name(name)),
        classifier=classifier,
        own_classifier=own_classifier,
        indexes=tuple(dict.fromkeys([*(base.indexes if base else ()), *(tuple(i) for i in spec.get("indexes", ()))])),
        project=tuple(ProjectRule.parse(r) for r in spec["project"]) if "project" in spec else (base.project if base else ()),
        hidden=bool(spec.get("hidden", False)),
    )


def _overrides(changes: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(changes)
    if "default" in result:
        result["has_default"] = True
    return result


def _attribute(type_name: str, name: str, spec: Any, inherited: Attribute | None) -> Attribute:
    if isinstance(spec, str):
        spec = {"type": spec}
    spec = dict(spec)
    fields: dict[str, Any] = {}
    if "ref" in spec:
        fields.update(kind=Kind.REFERENCE, target=spec.pop("ref"), via=tuple(spec.pop("via", (f"{name}_id",))))
    elif "collection" in spec:
        fields.update(kind=Kind.COLLECTION, target=spec.pop("collection"), via=tuple(spec.pop("via", ())))
    elif "mapped" in spec:
        fields.update(kind=Kind.MAPPED, target=spec.pop("mapped"), via=tuple(spec.pop("via", ())))
    else:
        scalar = spec.pop("type", "string")
        if scalar not in SCALAR_TYPES:
            raise SchemaError(f"{type_name}.{name}: unknown scalar type {scalar!r}")
        fields.update(kind=Kind.SCALAR, type=scalar)
    if "through" in spec:
        fields["through"] = Through(**spec.pop("through"))
    if "default" in spec:
        fields.update(default=spec.pop("default"), has_default=True)
    known = {f.name for f in dataclasses.fields(Attribute)}
    unknown = set(spec) - known
    if unknown:
        raise SchemaError(f"{type_name}.{name}: unknown attribute settings {sorted(unknown)}")
    fields.update(spec)
    return Attribute(name=name, **fields)


def _from_ftrack_property(
    type_name: str, name: str, prop: Mapping[str, Any], required: bool, immutable: bool, computed: bool
) -> Attribute:
    flags: dict[str, Any] = {"required": required, "immutable": immutable, "computed": computed}
    if "$ref" in prop:
        return Attribute(name, Kind.REFERENCE, target=prop["$ref"], **flags)
    kind_name = prop.get("type")
    if kind_name == "array":
        return Attribute(name, Kind.COLLECTION, target=prop["items"]["$ref"], **flags)
    if kind_name == "mapped_array":
        pair = prop.get("key_value_attributes", {})
        return Attribute(
            name, Kind.MAPPED, target=prop["items"]["$ref"], key=pair.get("key", "key"),
            value=pair.get("value", "value"), **flags,
        )  # fmt: skip
    format_name = prop.get("format")
    scalar = {"date-time": "datetime", "date": "date", "json": "json"}.get(format_name or "", kind_name or "string")
    if scalar not in SCALAR_TYPES:
        raise SchemaError(f"{type_name}.{name}: unknown property type {kind_name!r}")
    references = None
    if format_name == "foreign_key":
        described = prop.get("description", "").replace("Foreign key(s): ", "")
        references = described.split(".")[0] or None
        scalar = kind_name or "string"
    default_fields = {"default": prop["default"], "has_default": True} if "default" in prop else {}
    return Attribute(name, Kind.SCALAR, type=scalar, references=references, **default_fields, **flags)


def _table_name(type_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(type_name))
