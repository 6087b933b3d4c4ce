"""Which custom attributes an entity has, and their values where none is stored.

ftrack answers ``select custom_attributes from Task`` with every configured attribute
that applies to each task — its stored value, or else the configuration's default —
and clients set one by updating that entry. So an entity's custom attributes are:

- configurations for its kind (``entity_type``: ``show`` for projects, ``task`` for the
  TypedContext types, narrowed by ``object_type_id`` when it is set, ``assetversion``,
  ``asset``, ``user``, ``list``, ``listobject``), within its project when the
  configuration names one;
- hierarchical configurations, for every context: a context without a stored value
  takes the value stored on its nearest ancestor, else the default.
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
        inherited = self._inherited(connection, owners, [c.id for c in configurations if c.is_hierarchical])
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
                    value = inherited.get((key, configuration.id), configuration.default)
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

    def _inherited(
        self, connection: sa.Connection, owners: list[tuple[EntityType, Any, Any, Any]], hierarchical: list[Any]
    ) -> dict[tuple[Any, Any], Any]:
        """(owner key, configuration) → the value stored on the owner's nearest ancestor."""
        contexts = [key for entity_type, key, _, _ in owners if entity_type.table == "context"]
        if not hierarchical or not contexts:
            return {}
        typed = self.schema["TypedContext"]
        chain = self.compiler.chains(typed, typed.attributes["ancestors"], contexts)
        values = self.storage.tables["custom_attribute_value"]
        rows = connection.execute(
            sa.select(chain.c.root, chain.c.depth, values.c.configuration_id, values.c.value)
            .join(values, values.c.entity_id == chain.c.id)
            .where(self.storage.dialect.in_values(values.c.configuration_id, hierarchical))
            .order_by(chain.c.root, values.c.configuration_id, chain.c.depth)
        ).all()  # fmt: skip
        nearest: dict[tuple[Any, Any], Any] = {}
        for root, _, configuration, value in rows:
            nearest.setdefault((root, configuration), value)
        return nearest
