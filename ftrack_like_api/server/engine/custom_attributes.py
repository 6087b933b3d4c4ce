"""Which custom attributes an entity has, and their values where none is stored.

ftrack answers ``select custom_attributes from Task`` with every configured attribute
that applies to each task — its stored value, or else the configuration's default —
and clients set one by updating that entry. So an entity's custom attributes are:

- configurations for its kind (``entity_type``: ``show`` for projects, ``task`` for the
  TypedContext types, narrowed by ``object_type_id`` when it is set, ``assetversion``,
  ``asset``, ``user``, ``list``, ``listobject``), within its project when the
  configuration names one;
- hierarchical configurations, for every context.

An entity without a stored value has the configuration's default — for a hierarchical
attribute too: ftrack answers with the entity's own value, not its parent's (its
documentation: "when read they are not calculated and instead the raw value is
returned"). A script that wants the inherited value reads the ancestors' values.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from ...schema import EntityType
from .compiler import Compiler

__all__ = ["CustomAttributes"]

_KINDS = {"Project": "show", "AssetVersion": "assetversion", "User": "user", "List": "list",
          "TypedContextList": "list", "AssetVersionList": "list", "Asset": "asset",
          "ListObject": "listobject"}  # fmt: skip


class CustomAttributes:
    """Custom attribute values for one compiler's schema and storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.schema = compiler.schema
        self.storage = compiler.storage

    def holds(self, entity_type: EntityType) -> bool:
        """Whether ``entity_type`` is a custom attribute value type."""
        return any(t.name == "CustomAttributeValue" for t in self.schema.ancestry(entity_type.name))

    def kind(self, entity_type: EntityType) -> str | None:
        """The configurations' ``entity_type`` for an entity of this type."""
        if entity_type.name in _KINDS:
            return _KINDS[entity_type.name]
        if any(t.name == "TypedContext" for t in self.schema.ancestry(entity_type.name)):
            return "task"
        return None

    def missing(
        self,
        connection: sa.Connection,
        owners: Iterable[tuple[EntityType, Any, Any, Any]],
        stored: dict[Any, set[Any]],
    ) -> dict[Any, list[dict[str, Any]]]:
        """Values not stored, by owner key: ``{configuration_id, entity_id, key, value}`` (value as JSON text).

        ``owners`` are (concrete type, key, object type id, project id — a project's own id
        for a project); ``stored`` the configurations each owner has a stored value for.
        """
        owners = list(owners)
        if not owners:
            return {}
        table = self.storage.tables["custom_attribute_configuration"]
        configurations = connection.execute(
            sa.select(table.c.id, table.c.key, table.c.entity_type, table.c.object_type_id, table.c.project_id,
                      table.c["default"], table.c.is_hierarchical).order_by(table.c.sort, table.c.key)
        ).all()  # fmt: skip
        if not configurations:
            return {}
        missing: dict[Any, list[dict[str, Any]]] = {}
        for entity_type, key, object_type_id, project_id in owners:
            kind = self.kind(entity_type)
            is_context = entity_type.table == "context"
            have = stored.get(key, set())
            for configuration in configurations:
                if configuration.id in have:
                    continue
                if configuration.is_hierarchical:
                    if not is_context:
                        continue
                else:
                    if configuration.entity_type != kind:
                        continue
                    if kind == "task" and configuration.object_type_id not in (None, object_type_id):
                        continue
                value = configuration.default
                if configuration.project_id not in (None, project_id):
                    continue
                missing.setdefault(key, []).append(
                    {"configuration_id": configuration.id, "entity_id": key, "key": configuration.key, "value": value}
                )
        return missing
