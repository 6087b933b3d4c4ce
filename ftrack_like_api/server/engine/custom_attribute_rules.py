"""What ftrack's server checks of custom attributes before it stores them.

- A value must be of its configuration's type (``number``: a number, ``text``: text,
  ``boolean``: true or false, ``date``: a date or datetime, ``enumerator``: a list); a
  wrong one is refused, as ftrack refuses it, naming the key, the type and the value.
- Two configurations may not share a key for the same kind of entity (``entity_type``,
  and ``object_type_id`` for ``task``): the second is refused, naming the first.
- A ``CustomAttributeLink`` takes the kinds of entity it joins from its configuration
  (``entity_type`` and ``entity_type_to``), so the three ids ftrack's examples give make
  one (``fills.py`` calls :func:`link_entity_type`).
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Mapping

import sqlalchemy as sa

from ...exceptions import ValidationError
from ...schema import EntityType
from ...wire import decode_value
from .batch import BatchContext
from .compiler import Compiler

__all__ = ["CustomAttributeRules", "LINK_ENTITY_TYPES", "link_entity_type"]

#: A link configuration's ``entity_type`` / ``entity_type_to`` → the type a link's end names.
LINK_ENTITY_TYPES = {"task": "Context", "show": "Context", "context": "Context", "asset_version": "AssetVersion",
                     "assetversion": "AssetVersion", "asset": "Asset", "list": "List", "user": "User", "group": "Group",
                     "component": "Component"}  # fmt: skip


def link_entity_type(kind: Any) -> str | None:
    """The entity type a link configuration's ``entity_type`` (or ``entity_type_to``) names."""
    return LINK_ENTITY_TYPES.get(kind.lower()) if isinstance(kind, str) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_date(value: Any) -> bool:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return True
    try:
        return isinstance(decode_value(value if isinstance(value, dict) else {"__type__": "datetime", "value": value}),
                          (datetime.date, datetime.datetime))  # fmt: skip
    except (TypeError, ValueError):
        return False


#: Whether a value (as JSON gives it back) is of a configuration's type; types not named take any value.
_CHECKS = {
    "number": _is_number,
    "text": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "date": _is_date,
    "enumerator": lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value),
}
_PYTHON_NAMES = {str: "text", bool: "boolean", int: "number", float: "number", list: "list", dict: "object"}


class CustomAttributeRules:
    """The checks above, for one compiler's schema and storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.schema = compiler.schema
        tables = compiler.storage.tables
        self.configurations = tables["custom_attribute_configuration"]
        self.types = tables["custom_attribute_type"]
        self._values = {t.name for t in self.schema if any(a.name == "CustomAttributeValue" for a in self.schema.ancestry(t.name))}

    def check(self, batch: BatchContext, entity_type: EntityType, row: Mapping[str, Any],
              current: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        """Refuse ``row`` (the new row, or an update's changes of ``current``) if it breaks a rule."""
        if entity_type.name in self._values:
            if "value" in row and row["value"] is not None:
                configuration = row.get("configuration_id") or (current or {}).get("configuration_id")
                self._check_value(batch, configuration, row["value"])
        elif entity_type.name == "CustomAttributeConfiguration":
            if current is None or any(name in row for name in ("key", "entity_type", "object_type_id")):
                self._check_unique(batch.connection, {**(current or {}), **row})

    def _check_value(self, batch: BatchContext, configuration: Any, stored: str) -> None:
        def lookup() -> Any:
            return batch.connection.execute(
                sa.select(self.configurations.c.key, self.types.c.name)
                .join(self.types, self.types.c.id == self.configurations.c.type_id)
                .where(self.configurations.c.id == configuration)
            ).first()  # fmt: skip

        found = batch.remember(("custom attribute type", configuration), lookup)  # once per batch: values come in bulk
        if found is None:
            return  # the reference's own check says the configuration is missing
        key, kind = found
        check = _CHECKS.get(kind)
        value = json.loads(stored) if isinstance(stored, str) else stored
        if check is None or value is None or check(value):
            return
        shown = json.dumps(value)
        raise ValidationError(
            f'Custom attribute value for "{key}" must be of type {kind}. '
            f"Got {shown} of type {_PYTHON_NAMES.get(type(value), type(value).__name__)}",
            "wrong_type",
        )

    def _check_unique(self, connection: sa.Connection, row: Mapping[str, Any]) -> None:
        table = self.configurations
        same = [table.c.key == row.get("key"), table.c.entity_type == row.get("entity_type")]
        object_type = row.get("object_type_id")
        same.append(table.c.object_type_id.is_(None) if object_type is None else table.c.object_type_id == object_type)
        if row.get("id") is not None:
            same.append(table.c.id != row["id"])
        first = connection.execute(sa.select(table.c.id).where(*same).limit(1)).scalar()
        if first is not None:
            kind = f"entity type {row.get('entity_type')!r}" + (f" and object type {object_type}" if object_type else "")
            raise ValidationError(
                f"A custom attribute configuration with key {row.get('key')!r} for {kind} exists already ({first}): "
                f"keys are unique per kind of entity",
                "duplicate_key",
            )
