"""``schema_read``, ``schema_entity_read`` and ``schema_field_read``: the mapping, as ShotGrid describes a schema.

Each property is ``{"value": …, "editable": …}``, as ShotGrid's server answers it. The types
and fields are those of :mod:`.mapping` — what this endpoint serves — not all of ours.
"""

from __future__ import annotations

from typing import Any, Callable

from ....exceptions import ValidationError
from .eventlog import FIELDS as EVENT_FIELDS
from .mapping import Field, Mapping, SgType

__all__ = ["entity_schema", "field_schema", "full_schema", "schema_answer"]


def _fixed(value: Any) -> dict[str, Any]:
    return {"value": value, "editable": False}


def _field(sg_type: SgType, field: Field, mapping: Mapping) -> dict[str, Any]:
    properties: dict[str, Any] = {"default_value": _fixed(None), "summary_default": _fixed("none")}
    if field.kind in ("entity", "multi_entity", "grants"):
        properties["valid_types"] = _fixed(list(field.types))
    if field.kind == "status":
        properties["valid_values"] = _fixed(list(mapping.statuses))
        properties["display_values"] = _fixed(dict(mapping.statuses))
    if field.values:
        properties["valid_values"] = _fixed(list(field.values))
    return {
        "name": _fixed(field.name.replace("_", " ").title()),
        "entity_type": _fixed(sg_type.name),
        "data_type": _fixed(field.sg_data_type),
        "editable": _fixed(field.kind not in ("id", "file") and not field.read_only),
        "mandatory": _fixed(field.name == sg_type.name_field),
        "unique": _fixed(field.kind == "id"),
        "visible": _fixed(True),
        "description": _fixed(""),
        "properties": properties,
    }


def _event_fields() -> dict[str, Any]:
    """The fields of ``EventLogEntry``, a view of the event log: none editable."""
    return {name: {"name": _fixed(name.replace("_", " ").title()), "entity_type": _fixed("EventLogEntry"),
                   "data_type": _fixed(kind), "editable": _fixed(False), "mandatory": _fixed(False),
                   "unique": _fixed(name == "id"), "visible": _fixed(True), "description": _fixed(""),
                   "properties": {"default_value": _fixed(None), "summary_default": _fixed("none")}}
            for name, kind in EVENT_FIELDS.items()}  # fmt: skip


def _same(sg_type: SgType) -> SgType:
    return sg_type


def field_schema(mapping: Mapping, params: Any, typed: Callable[[SgType], SgType] = _same) -> dict[str, Any]:
    """``schema_field_read``: every field of a type, or the one named (``typed`` adds a type's custom fields)."""
    if not isinstance(params, dict):
        raise ValidationError("schema_field_read takes {'type', 'field_name'}", "bad_request")
    if params.get("type") == "EventLogEntry":
        fields = _event_fields()
        name = params.get("field_name")
        if name and name not in fields:
            raise ValidationError(f"EventLogEntry.{name} doesn't exist", "unknown_field")
        return {name: fields[name]} if name else fields
    sg_type = typed(mapping.type(params.get("type")))
    wanted = params.get("field_name")
    chosen = [sg_type.field(wanted)] if wanted else list(sg_type.fields.values())
    return {field.name: _field(sg_type, field, mapping) for field in chosen}


def entity_schema(mapping: Mapping) -> dict[str, Any]:
    """``schema_entity_read``: each type's name and visibility."""
    return {name: {"name": _fixed(name), "visible": _fixed(True)} for name in [*mapping.types, "EventLogEntry"]}


def full_schema(mapping: Mapping, typed: Callable[[SgType], SgType] = _same) -> dict[str, Any]:
    """``schema_read``: every field of every type (``typed`` adds a type's custom fields)."""
    types = {name: typed(t) for name, t in mapping.types.items()}
    schema = {name: {f.name: _field(t, f, mapping) for f in t.fields.values()} for name, t in types.items()}
    return {**schema, "EventLogEntry": _event_fields()}


def schema_answer(mapping: Mapping, method: str, params: Any, typed: Callable[[SgType], SgType]) -> Any:
    """``schema_read``, ``schema_entity_read`` or ``schema_field_read`` (``typed`` adds a type's custom fields)."""
    if method == "schema_read":
        return full_schema(mapping, typed)
    if method == "schema_entity_read":
        return entity_schema(mapping)
    return field_schema(mapping, params, typed)
