"""The values the server fills on create when a batch leaves them out: the schema's ``fill`` rules.

``now`` and ``user`` (when and by whom), ``uid`` (a new uuid), a TypedContext's
``project``, first ``status`` and ``type`` from its project's schema, its ``sort`` among
its siblings, an AssetVersion's ``version`` number and ``version_status``, a custom
attribute value's ``configuration_key``, a metadata entry's ``parent_type``, a review
session's ``end_date`` (``week_after_start``: a week after its start); and
``sequence``, which the database numbers. Lookups are kept for the batch
(``BatchContext.remember``), and a child created in the same batch is answered from the
batch's own creates, so 10,000 creates under one project cost a few queries.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa

from ...exceptions import ValidationError
from ...schema import Attribute, EntityType, Kind
from .batch import BatchContext
from .compiler import Compiler
from .custom_attribute_rules import link_entity_type

__all__ = ["Fills"]


class Fills:
    """The fill rules, for one compiler's schema and storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.schema = compiler.schema
        self.storage = compiler.storage

    def value(self, batch: BatchContext, entity_type: EntityType, attribute: Attribute, row: dict[str, Any]) -> Any:
        """The value ``attribute``'s fill rule gives a new ``row`` of ``entity_type`` (None: none)."""
        rule = attribute.fill
        if rule == "now":
            return batch.now
        if rule == "user":
            return batch.user_id
        if rule == "sequence":
            return None
        if rule == "uid":  # a new uuid: a User created without a username gets one, as on ftrack's server
            return str(uuid.uuid4())
        handler = getattr(self, f"_fill_{rule}", None)
        if handler is None:
            raise ValidationError(f"{entity_type.name}.{attribute.name}: unknown fill rule {rule!r}", "schema")
        return handler(batch, entity_type, row)

    def _scalar(self, batch: BatchContext, sql: sa.Select[Any]) -> Any:
        return batch.connection.execute(sql).scalar()

    def _fill_project(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        if row.get("context_type") == "show":
            return row.get("id")
        return self.project_of(batch, row.get("parent_id"))

    def project_of(self, batch: BatchContext, context_id: Any) -> Any:
        """The project a context belongs to (a project is its own), or None."""
        if context_id is None:
            return None
        made = batch.created.get(context_id)
        if made is not None and "context_type" in made:
            return made["id"] if made["context_type"] == "show" else made.get("project_id")
        context = self.storage.tables["context"]

        def lookup() -> Any:
            found = batch.connection.execute(
                sa.select(context.c.context_type, context.c.project_id, context.c.id).where(context.c.id == context_id)
            ).first()
            if found is None:
                return None
            return found.id if found.context_type == "show" else found.project_id

        return batch.remember(("project of", context_id), lookup)

    def _project_schema(self, batch: BatchContext, project_id: Any) -> Any:
        context = self.storage.tables["context"]
        return batch.remember(
            ("project schema", project_id),
            lambda: self._scalar(batch, sa.select(context.c.project_schema_id).where(context.c.id == project_id)),
        )

    def _first_of(self, batch: BatchContext, kind: str, schema_id: Any, object_type_id: Any) -> Any:
        """The first status or type a project schema gives an object type."""

        def lookup() -> Any:
            tables = self.storage.tables
            project_schema = tables["project_schema"]
            object_type = tables["object_type"]
            is_task = self._scalar(batch, sa.select(object_type.c.name).where(object_type.c.id == object_type_id)) == "Task"
            if kind == "status" and is_task:
                link, item, column = tables["workflow_schema_status"], tables["status"], "status_id"
                owner = self._scalar(batch, sa.select(project_schema.c.task_workflow_schema_id).where(project_schema.c.id == schema_id))
                where = link.c.workflow_schema_id == owner
            elif kind == "type" and is_task:
                link, item, column = tables["task_type_schema_type"], tables["type"], "type_id"
                owner = self._scalar(batch, sa.select(project_schema.c.task_type_schema_id).where(project_schema.c.id == schema_id))
                where = link.c.task_type_schema_id == owner
            else:
                schema_table = tables["schema"]
                owner = self._scalar(
                    batch,
                    sa.select(schema_table.c.id).where(
                        schema_table.c.project_schema_id == schema_id, schema_table.c.object_type_id == object_type_id
                    ),
                )
                link = tables["schema_status" if kind == "status" else "schema_type"]
                item, column = tables[kind], f"{kind}_id"
                where = link.c.schema_id == owner
            first = self._scalar(
                batch,
                sa.select(link.c[column]).join(item, item.c.id == link.c[column]).where(where)
                .order_by(link.c.sort, item.c.sort, item.c.name).limit(1),
            )  # fmt: skip
            if first is None:  # no schema says: the first of all, as a last resort
                first = self._scalar(batch, sa.select(item.c.id).order_by(item.c.sort, item.c.name).limit(1))
            return first

        return batch.remember((kind, schema_id, object_type_id), lookup)

    def _fill_week_after_start(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        # A review session made without its end (ftrack's example leaves it out; its schema requires
        # it): open for a week from its start, so it is open (``is_open``) when made.
        start = row.get("start_date") or batch.now
        return start + datetime.timedelta(days=7) if isinstance(start, datetime.datetime) else None

    def _fill_status(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        project = row.get("project_id")
        return self._first_of(batch, "status", self._project_schema(batch, project), row.get("object_type_id"))

    def _fill_type(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        project = row.get("project_id")
        return self._first_of(batch, "type", self._project_schema(batch, project), row.get("object_type_id"))

    def _fill_sort(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        context = self.storage.tables["context"]
        parent = row.get("parent_id")
        key = ("sort", parent)
        if key not in batch.cache and batch.new(parent):
            batch.cache[key] = -1  # new in this batch: no children but the batch's own
        if key not in batch.cache:
            highest = self._scalar(batch, sa.select(sa.func.max(context.c.sort)).where(context.c.parent_id == parent))
            batch.cache[key] = highest if highest is not None else -1
        batch.cache[key] += 1
        return batch.cache[key]

    def _fill_version(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        table = self.storage.tables["asset_version"]
        asset = row.get("asset_id")
        key = ("version", asset)
        if key not in batch.cache and batch.new(asset):
            batch.cache[key] = 0  # new in this batch: nobody else can see it to add versions
        if key not in batch.cache:
            if self.storage.dialect.name == "postgresql" and asset is not None:
                # Two batches adding versions to one asset must not both take the same number.
                assets = self.storage.tables["asset"]
                batch.connection.execute(sa.select(assets.c.id).where(assets.c.id == asset).with_for_update())
            highest = self._scalar(batch, sa.select(sa.func.max(table.c.version)).where(table.c.asset_id == asset))
            batch.cache[key] = highest or 0
        batch.cache[key] += 1
        return batch.cache[key]

    def _fill_version_status(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        tables = self.storage.tables
        asset, context = tables["asset"], tables["context"]
        made = batch.created.get(row.get("asset_id"))
        if made is not None and "context_id" in made:
            project = self.project_of(batch, made["context_id"])
        else:
            project = self._scalar(
                batch,
                sa.select(sa.func.coalesce(context.c.project_id, context.c.id))
                .join(asset, asset.c.context_id == context.c.id)
                .where(asset.c.id == row.get("asset_id")),
            )
        schema_id = self._project_schema(batch, project)

        def lookup() -> Any:
            project_schema, link, status = tables["project_schema"], tables["workflow_schema_status"], tables["status"]
            owner = self._scalar(
                batch, sa.select(project_schema.c.asset_version_workflow_schema_id).where(project_schema.c.id == schema_id)
            )
            first = self._scalar(
                batch,
                sa.select(link.c.status_id).join(status, status.c.id == link.c.status_id)
                .where(link.c.workflow_schema_id == owner).order_by(link.c.sort, status.c.sort).limit(1),
            )  # fmt: skip
            return first or self._scalar(batch, sa.select(status.c.id).order_by(status.c.sort).limit(1))

        return batch.remember(("version status", schema_id), lookup)

    def _fill_configuration_key(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        table = self.storage.tables["custom_attribute_configuration"]
        configuration = row.get("configuration_id")
        return batch.remember(
            ("configuration key", configuration),
            lambda: self._scalar(batch, sa.select(table.c.key).where(table.c.id == configuration)),
        )

    def _fill_link_from_type(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        return link_entity_type(self._link_configuration(batch, row).get("entity_type"))

    def _fill_link_to_type(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        return link_entity_type(self._link_configuration(batch, row).get("entity_type_to"))

    def _link_configuration(self, batch: BatchContext, row: dict[str, Any]) -> dict[str, Any]:
        """The kinds of entity a link's configuration joins (ftrack's examples give a link its three ids only)."""
        table = self.storage.tables["custom_attribute_link_configuration"]
        configuration = row.get("configuration_id")

        def lookup() -> dict[str, Any]:
            found = batch.connection.execute(
                sa.select(table.c.entity_type, table.c.entity_type_to).where(table.c.id == configuration)
            ).mappings().first()  # fmt: skip
            return dict(found) if found is not None else {}

        return batch.remember(("link configuration", configuration), lookup)

    def _fill_parent_type(self, batch: BatchContext, entity_type: EntityType, row: dict[str, Any]) -> Any:
        """The type of the entity a Metadata row belongs to: look in each table that has metadata."""
        parent = row.get("parent_id")
        roots: dict[str, EntityType] = {}
        for owner in self.schema:
            metadata = owner.attributes.get("metadata")
            if metadata is not None and metadata.kind is Kind.MAPPED:
                root = self.schema.ancestry(owner.name)[-1]
                roots.setdefault(root.table, root)  # type: ignore[arg-type]
        for root in roots.values():
            table = self.storage.table(root)
            found = batch.connection.execute(sa.select(table).where(table.c[root.primary_key[0]] == parent)).mappings().first()
            if found is not None:
                return self.schema.concrete(root.name, found).name
        return None
