"""``sg_*`` fields made with ``schema_field_create``: our custom attributes.

ShotGrid's ``schema_field_create("Shot", "number", "Cut Duration")`` makes the field
``sg_cut_duration``; here it is a custom attribute configuration of ours with that key, for the
kind of entity the type is (``task`` narrowed to the Shot object type, ``assetversion`` …), so
ftrack's API sees it as ``custom_attributes["sg_cut_duration"]``, and every custom attribute of
a type is a field of its ShotGrid type (the type's own fields first). A type's fields are read
from the configurations on each call: a field another worker made is there at once.

A custom field reads its stored value (None when none is); ``is`` / ``is_not`` None test
whether one is stored; other relations compare it (``custom_attributes any (key is … and
value …)`` in our query language). ``schema_field_update`` changes its label and description,
``schema_field_delete`` removes it and its values.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any

from ....exceptions import ValidationError
from ....query import ast, render
from ...engine.batch import BatchContext
from .mapping import Field, SgType

__all__ = ["CustomFields", "DATA_TYPES"]

#: ShotGrid's data types a field may be made with, and our custom attribute types for them.
DATA_TYPES = {"number": "number", "float": "number", "text": "text", "checkbox": "boolean", "date": "date",
              "date_time": "date"}  # fmt: skip
#: Our custom attribute types read back as ShotGrid's data types.
_SG_TYPES = {"number": "number", "text": "text", "boolean": "checkbox", "date": "date_time", "enumerator": "list"}


def _is(path: str, value: Any) -> ast.Comparison:
    return ast.Comparison(ast.Path.of(path), ast.Operator.IS, ast.Literal(value))


def field_name(display_name: Any) -> str:
    """ShotGrid's field code for a display name: ``Cut Duration`` is ``sg_cut_duration``."""
    if not isinstance(display_name, str) or not re.search(r"[A-Za-z0-9]", display_name):
        raise ValidationError(f"A field's display name has letters or digits, not {display_name!r}", "bad_value")
    return "sg_" + re.sub(r"[^a-z0-9]+", "_", display_name.lower()).strip("_")


class CustomFields:
    """The custom attributes of a backend as ShotGrid fields."""

    def __init__(self, backend: Any, check: Any) -> None:
        self.backend, self.check = backend, check

    def _rows(self, batch: BatchContext, query: ast.Query) -> list[dict[str, Any]]:
        return self.backend.reader.query(batch.connection, render(query))["data"]  # type: ignore[no-any-return]

    def owner(self, sg_type: SgType) -> tuple[str | None, str | None]:
        """(the configurations' entity_type, object type id) for entities of ``sg_type``."""
        entity_type = self.backend.schema[sg_type.ours]
        return self.backend.reader.custom.kind(entity_type), entity_type.classifier.get("object_type_id")

    def _configurations(self, batch: BatchContext, sg_type: SgType, key: str | None = None) -> list[dict[str, Any]]:
        kind, object_type = self.owner(sg_type)
        if kind is None:
            return []
        conditions = [_is("entity_type", kind), _is("project_id", None)]
        if key is not None:
            conditions.append(_is("key", key))
        paths = tuple(ast.Path.of(p) for p in ("key", "label", "config", "object_type_id", "type.name"))
        rows = self._rows(batch, ast.Query("CustomAttributeConfiguration", paths, ast.And(tuple(conditions))))
        return [r for r in rows if r.get("object_type_id") in (None, object_type)]

    def typed(self, batch: BatchContext, sg_type: SgType) -> SgType:
        """``sg_type`` with its custom attributes as fields (its own fields win a name both have)."""
        extra = {}
        for row in self._configurations(batch, sg_type):
            kind = str((row.get("type") or {}).get("name"))
            extra[row["key"]] = Field(name=row["key"], kind="custom", key=row["key"], data_type=_SG_TYPES.get(kind, "text"))
        if not extra:
            return sg_type
        return dataclasses.replace(sg_type, fields={**extra, **sg_type.fields})

    def call(self, batch: BatchContext, mapping: Any, method: str, params: dict[str, Any]) -> Any:
        """``schema_field_create`` (the new field's name), ``schema_field_update`` or ``schema_field_delete`` (True)."""
        sg_type = mapping.type(params.get("type"))
        if method == "schema_field_create":
            return self.create(batch, sg_type, params.get("data_type"), params.get("properties"))
        if method == "schema_field_update":
            return self.update(batch, sg_type, params.get("field_name"), params.get("properties"))
        return self.delete(batch, sg_type, params.get("field_name"))

    def create(self, batch: BatchContext, sg_type: SgType, data_type: Any, properties: Any) -> str:
        """A new custom attribute for ``sg_type``'s entities; its field name."""
        ours = DATA_TYPES.get(data_type) if isinstance(data_type, str) else None
        if ours is None:
            raise ValidationError(f"schema_field_create makes fields of the types {', '.join(DATA_TYPES)}, "
                                  f"not {data_type!r}", "bad_value")  # fmt: skip
        properties = _properties(properties)
        display = properties.get("name")
        name = field_name(display)
        kind, object_type = self.owner(sg_type)
        if kind is None:
            raise ValidationError(f"{sg_type.name} takes no new fields here", "bad_value")
        if name in sg_type.fields or self._configurations(batch, sg_type, name):
            raise ValidationError(f"{sg_type.name}.{name} exists already", "exists")
        found = self._rows(batch, ast.Query("CustomAttributeType", (ast.Path.of("id"),), _is("name", ours)))
        if not found:
            raise ValidationError(f"There is no custom attribute type {ours!r} here", "bad_value")
        config = {"sg_data_type": data_type, "description": str(properties.get("description") or "")}
        if data_type == "float":
            config["isdecimal"] = True
        self.check(batch, "create", "CustomAttributeConfiguration")
        self.backend.writer.create(batch, "CustomAttributeConfiguration", {
            "__entity_type__": "CustomAttributeConfiguration", "id": str(uuid.uuid4()), "key": name, "label": display,
            "type_id": found[0]["id"], "entity_type": kind, "object_type_id": object_type, "config": json.dumps(config),
        })  # fmt: skip
        return name

    def update(self, batch: BatchContext, sg_type: SgType, name: Any, properties: Any) -> bool:
        """Change a custom field's display name (``name``) or description."""
        (row,) = self._one(batch, sg_type, name)
        properties = _properties(properties)
        changes: dict[str, Any] = {}
        if "name" in properties:
            changes["label"] = str(properties["name"])
        if "description" in properties:
            config = _config(row.get("config"))
            config["description"] = str(properties["description"] or "")
            changes["config"] = json.dumps(config)
        if changes:
            self.check(batch, "update", "CustomAttributeConfiguration")
            self.backend.writer.update(batch, "CustomAttributeConfiguration", [row["id"]], changes)
        return True

    def delete(self, batch: BatchContext, sg_type: SgType, name: Any) -> bool:
        """Remove a custom field (and its values)."""
        (row,) = self._one(batch, sg_type, name)
        self.check(batch, "delete", "CustomAttributeConfiguration")
        self.backend.writer.delete(batch, "CustomAttributeConfiguration", [row["id"]])
        return True

    def _one(self, batch: BatchContext, sg_type: SgType, name: Any) -> list[dict[str, Any]]:
        found = self._configurations(batch, sg_type, name) if isinstance(name, str) else []
        if not found:
            if isinstance(name, str) and name in sg_type.fields:
                raise ValidationError(f"{sg_type.name}.{name} is not a field made by schema_field_create", "read_only")
            raise ValidationError(f"{sg_type.name}.{name} doesn't exist", "unknown_field")
        return found[:1]

    def write(self, batch: BatchContext, sg_type: SgType, key: str, values: dict[str, Any]) -> None:
        """Set (or, with None, remove) custom field values of entity ``key``."""
        if not values:
            return
        target = self.backend.schema[sg_type.ours].attributes["custom_attributes"].target
        configurations = {r["key"]: r["id"] for r in self._configurations(batch, sg_type) if r["key"] in values}
        stored = self._rows(batch, ast.Query(target, (ast.Path.of("configuration_id"),), ast.And((
            _is("entity_id", key), ast.Membership(ast.Path.of("configuration_id"),
                                                  tuple(ast.Literal(c) for c in configurations.values()))))))  # fmt: skip
        have = {r["configuration_id"] for r in stored}
        writer = self.backend.writer
        for name, value in values.items():
            configuration = configurations[name]
            self.check(batch, "update", target)
            if value is None:
                if configuration in have:
                    writer.delete(batch, target, [configuration, key])
            elif configuration in have:
                writer.update(batch, target, [configuration, key], {"value": value})
            else:
                writer.create(batch, target, {"__entity_type__": target, "configuration_id": configuration,
                                              "entity_id": key, "value": value})  # fmt: skip


def _properties(properties: Any) -> dict[str, Any]:
    if properties is None:
        return {}
    if isinstance(properties, list):  # [{"property_name", "value"}], as the client sends them
        properties = {p.get("property_name"): p.get("value") for p in properties if isinstance(p, dict)}
    if not isinstance(properties, dict):
        raise ValidationError(f"A field's properties are an object, not {properties!r}", "bad_value")
    return properties


def _config(text: Any) -> dict[str, Any]:
    try:
        config = json.loads(text or "{}")
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}
