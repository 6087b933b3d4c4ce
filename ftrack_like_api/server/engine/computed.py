"""Attributes the server works out instead of storing (``"compute": name`` in the schema).

Two kinds: those SQL can say (``time_logged`` is the sum of a context's timelog
durations) become a column of the select, so they cost nothing extra per row; those
it cannot say in one column (``link``, the path from the project down to an entity)
are filled once the rows are in, with one query for all of them.

``copy:<attribute>`` reads another attribute's column under a second name (ftrack's
``Schema.type_id`` is its ``object_type_id``).

``thumbnail_url`` is ``{"url": …, "value": …}`` (ftrack's shape; both the same link) for the
entity's thumbnail (its ``thumbnail_id``; a NoteComponent's or SettingComponent's own
component), None without one. The link is ``/component/thumbnail?id=<component id>`` under
:data:`BASE_URL`, which the HTTP layer sets to the address the request came to, with the
signed ``token`` :data:`LINK_TOKEN` gives (so that a plain GET of it works, as ftrack's do);
in-process it stays a path without one.
"""

from __future__ import annotations

import contextvars
import datetime
from typing import Any, Callable
from urllib.parse import quote

import sqlalchemy as sa

from ...exceptions import SchemaError
from ...schema import Attribute, EntityType
from .compiler import Compiler
from .statements import NOW

__all__ = ["BASE_URL", "Computed", "LINK_TOKEN"]

#: The server's address as the request being answered reached it (``https://ftrack.studio``),
#: set by the HTTP layer: links the engine writes (``thumbnail_url``) start with it. Empty: paths.
BASE_URL: contextvars.ContextVar[str] = contextvars.ContextVar("base_url", default="")
#: A component id → the signed token a link to its thumbnail carries, for the request being
#: answered (set by the HTTP layer); None: links carry no credential.
LINK_TOKEN: contextvars.ContextVar[Callable[[str], str] | None] = contextvars.ContextVar("link_token", default=None)

#: (an encoded entity, its primary key value): the rows a computed attribute is filled into.
Targets = list[tuple[dict[str, Any], Any]]


class Computed:
    """The computed attributes of one compiler's schema and storage."""

    def __init__(self, compiler: Compiler) -> None:
        self.compiler = compiler
        self.storage = compiler.storage
        self._columns: dict[str, Callable[[EntityType, sa.FromClause], sa.ColumnElement[Any]]] = {
            "time_logged": self._time_logged,
            "bid_time_logged_difference": self._bid_time_logged_difference,
            "is_latest_version": self._is_latest_version,
            "is_open": self._is_open,
        }
        #: Fills give each target's value by its key.
        self._fills: dict[str, Callable[[sa.Connection, EntityType, list[Any]], dict[Any, Any]]] = {
            "link": self._link,
            "version_link": self._version_link,
            "asset_link": self._asset_link,
            "thumbnail_url": self._thumbnail_url,
        }

    def check(self, entity_type: EntityType, attribute: Attribute) -> None:
        """Fail unless the server knows how to compute ``attribute``."""
        compute = attribute.compute or ""
        if compute.startswith("copy:"):
            copied = entity_type.attributes.get(compute[len("copy:"):])
            if copied is None or copied not in entity_type.scalars:
                raise SchemaError(f"{entity_type.name}.{attribute.name}: {compute!r} names no stored attribute")
        elif compute not in self._columns and compute not in self._fills:
            raise SchemaError(f"{entity_type.name}.{attribute.name}: no way to compute {attribute.compute!r}")

    def is_column(self, attribute: Attribute) -> bool:
        return attribute.compute in self._columns or (attribute.compute or "").startswith("copy:")

    def column(self, entity_type: EntityType, table: sa.FromClause, attribute: Attribute) -> sa.ColumnElement[Any]:
        """The attribute as a column of a select over ``table``, labelled with its name."""
        compute = attribute.compute or ""
        if compute.startswith("copy:"):
            return table.c[compute[len("copy:"):]].label(attribute.name)
        column = self._columns[compute](entity_type, table)
        if attribute.type == "boolean":
            column = sa.type_coerce(column, sa.Boolean)  # SQLite answers 0 and 1
        return column.label(attribute.name)

    def fill(self, connection: sa.Connection, entity_type: EntityType, attribute: Attribute, targets: Targets) -> None:
        """Write the attribute into each encoded entity of ``targets``."""
        if targets:
            keys = sorted({key for _, key in targets}, key=str)
            values = self._fills[attribute.compute](connection, entity_type, keys)  # type: ignore[index]
            for encoded, key in targets:
                encoded[attribute.name] = values.get(key)

    # --- the computations -------------------------------------------------------------------

    def _time_logged(self, entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[Any]:
        timelog = self.storage.tables["timelog"]
        total = sa.select(sa.func.coalesce(sa.func.sum(timelog.c.duration), 0.0))
        return total.where(timelog.c.context_id == table.c[entity_type.primary_key[0]]).scalar_subquery()

    def _bid_time_logged_difference(self, entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[Any]:
        return table.c.bid - self._time_logged(entity_type, table)

    def _is_latest_version(self, entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[Any]:
        versions = self.storage.tables["asset_version"].alias()
        latest = sa.select(sa.func.max(versions.c.version)).where(versions.c.asset_id == table.c.asset_id)
        return sa.func.coalesce(table.c.version == latest.scalar_subquery(), sa.false())

    def _is_open(self, entity_type: EntityType, table: sa.FromClause) -> sa.ColumnElement[Any]:
        # The time is a named parameter: a statement kept for its shape is given the time of each request.
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        return sa.or_(table.c.end_date.is_(None), table.c.end_date > sa.bindparam(NOW, now, sa.DateTime))

    def _version_link(self, connection: sa.Connection, entity_type: EntityType, keys: list[Any]) -> dict[Any, Any]:
        """A version's link, as ftrack's: its asset's context's link, then the version (``"plate v3"``), not the asset."""
        versions, assets = self.storage.tables["asset_version"], self.storage.tables["asset"]
        rows = connection.execute(
            sa.select(versions.c.id, versions.c.version, assets.c.name, assets.c.context_id)
            .join(assets, assets.c.id == versions.c.asset_id)
            .where(self.storage.dialect.in_values(versions.c.id, keys))
        ).all()  # fmt: skip
        contexts = self._link(connection, entity_type, sorted({r.context_id for r in rows} - {None}, key=str))
        return {
            row.id: [*contexts.get(row.context_id, []), {"id": row.id, "name": f"{row.name} v{row.version}", "type": "AssetVersion"}]
            for row in rows
        }

    def _asset_link(self, connection: sa.Connection, entity_type: EntityType, keys: list[Any]) -> dict[Any, Any]:
        """An asset's link: its context's link, then the asset."""
        assets = self.storage.tables["asset"]
        rows = connection.execute(
            sa.select(assets.c.id, assets.c.name, assets.c.context_id).where(self.storage.dialect.in_values(assets.c.id, keys))
        ).all()
        contexts = self._link(connection, entity_type, sorted({r.context_id for r in rows} - {None}, key=str))
        return {row.id: [*contexts.get(row.context_id, []), {"id": row.id, "name": row.name, "type": "Asset"}] for row in rows}

    def _thumbnail_url(self, connection: sa.Connection, entity_type: EntityType, keys: list[Any]) -> dict[Any, Any]:
        """``{"url", "value"}``: a link to the thumbnail of each entity (its ``thumbnail_id``, or its own component)."""
        if "thumbnail_id" in entity_type.attributes:
            table = self.storage.table(entity_type)
            key = table.c[entity_type.primary_key[0]]
            rows = connection.execute(
                sa.select(key, table.c.thumbnail_id).where(self.storage.dialect.in_values(key, keys))
            ).all()  # fmt: skip
            thumbnails = {row[0]: row[1] for row in rows}
        else:  # a NoteComponent or SettingComponent: its key is its component's id
            thumbnails = {key: key for key in keys}
        base, sign = BASE_URL.get().rstrip("/"), LINK_TOKEN.get()
        links = {}
        for key, component_id in thumbnails.items():
            if component_id is not None:
                url = f"{base}/component/thumbnail?id={component_id}"
                if sign is not None:
                    url += f"&token={quote(sign(component_id))}"
                links[key] = {"url": url, "value": url}
        return links

    def _link(self, connection: sa.Connection, entity_type: EntityType, keys: list[Any]) -> dict[Any, Any]:
        """``[{"id", "name", "type"}, …]`` from the project down to each entity, in one recursive query."""
        context = self.storage.tables["context"]
        start, step = context.alias(), context.alias()
        anchor = sa.select(
            start.c.id.label("root"), start.c.id, start.c.parent_id, start.c.name, start.c.context_type,
            sa.literal(0).label("depth"),
        ).where(self.storage.dialect.in_values(start.c.id, keys))  # fmt: skip
        chain = anchor.cte(recursive=True)
        chain = chain.union_all(
            sa.select(chain.c.root, step.c.id, step.c.parent_id, step.c.name, step.c.context_type, chain.c.depth + 1)
            .join(chain, step.c.id == chain.c.parent_id)
        )  # fmt: skip
        rows = connection.execute(
            sa.select(chain.c.root, chain.c.id, chain.c.name, chain.c.context_type).order_by(chain.c.root, chain.c.depth.desc())
        ).all()
        links: dict[Any, list[dict[str, Any]]] = {}
        for root, key, name, context_type in rows:
            kind = "Project" if context_type == "show" else "TypedContext"
            links.setdefault(root, []).append({"id": key, "name": name, "type": kind})
        return {key: links.get(key, []) for key in keys}
