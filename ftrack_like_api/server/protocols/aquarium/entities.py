"""Aquarium's items that are child entities of ours: ``Version`` (AssetVersion), ``Media`` (a component),
``Comment`` (Note), ``Job`` (Timelog) and ``Playlist`` (AssetVersionList) — read as items and Child edges, and made
from an item's data.

Each lives under a parent of ours, which is its ``Child`` edge: a Version's task (or, for a
version made elsewhere with no task, its asset's context), a component's version, a note's
parent (a reply's: the note it answers), a timelog's context, a list's project. Its project is its parent's,
which is what permissions read. A Version made under a Task is a version of the asset named
after the task under the task's parent (the shot: made the first time, of type Upload); its
number is the digits of its name (``v003`` is 3), and a version made elsewhere is named
``v`` and its number in three digits. A Media's name is its file's name (its component's
name and file type).
"""

from __future__ import annotations

import datetime
import os
import re
import uuid
from typing import Any

import sqlalchemy as sa

from ....exceptions import ValidationError
from ...engine.batch import BatchContext
from .mapping import ItemType
from .meshql.values import JsonValues

__all__ = ["ChildEntities", "iso_duration"]

_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION = re.compile(rf"^P(?:{_NUMBER}W)?(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$")


def _text(value: str) -> sa.ColumnElement[str]:
    return sa.literal_column("'" + value.replace("'", "''") + "'", sa.Text)


def iso_duration(value: Any) -> float:
    """Seconds of an ISO 8601 duration (``PT1H30M``, ``P1D``, as Aquarium's ``Utils.duration`` writes); a number is seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    found = _DURATION.match(value) if isinstance(value, str) and value not in ("P", "PT") else None
    if found is None:
        raise ValidationError(f"duration {value!r} is not an ISO 8601 duration (such as 'PT1H30M')", "bad_request")
    weeks, days, hours, minutes, seconds = (float(part or 0) for part in found.groups())
    return (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds


def _moment(value: Any) -> datetime.datetime:
    try:
        found = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"performedAt {value!r} is not an ISO 8601 date", "bad_request") from None
    return found.astimezone(datetime.timezone.utc).replace(tzinfo=None) if found.tzinfo else found


class ChildEntities:
    """The child entity types of one storage: their item and edge branches, and the values to make one."""

    def __init__(self, storage: Any, item_table: sa.Table, edge_table: sa.Table) -> None:
        t = storage.tables
        self.tables = t
        self.context, self.object_type = t["context"], t["object_type"]
        self.item_table, self.edge_table = item_table, edge_table
        self.values = JsonValues(storage.dialect.name)
        self.postgres = storage.dialect.name == "postgresql"

    # --- reading ------------------------------------------------------------------------------

    def _project(self, context: Any) -> Any:
        return sa.func.coalesce(context.c.project_id, context.c.id)

    def _number_name(self, number: Any) -> Any:
        if self.postgres:
            return _text("v").op("||")(sa.func.lpad(sa.cast(number, sa.Text), 3, "0"))
        return sa.func.printf("v%03d", number)

    def source(self, kind: ItemType) -> dict[str, Any]:
        """How ``kind``'s table is read: ``from`` (joined to what tells its project), ``key``, ``parent``, ``project``,
        ``name``, ``created_at``, ``created_by`` and ``attribute`` (the table's column by attribute name)."""
        t, a = self.tables, self.item_table
        kept_name = self.values.text(a.c.data, ["name"])
        if kind.table == "asset_version":
            v, asset, cx = t["asset_version"], t["asset"].alias("av_asset"), self.context.alias("av_context")
            joined = v.join(asset, asset.c.id == v.c.asset_id).join(cx, cx.c.id == asset.c.context_id)
            return {"from": joined, "table": v, "key": v.c.id, "parent": sa.func.coalesce(v.c.task_id, asset.c.context_id),
                    "project": self._project(cx), "name": sa.func.coalesce(kept_name, self._number_name(v.c.version)),
                    "created_at": v.c.date, "created_by": v.c.user_id}  # fmt: skip
        if kind.table == "component":
            c, v = t["component"], t["asset_version"].alias("c_version")
            asset, cx = t["asset"].alias("c_asset"), self.context.alias("c_context")
            joined = c.join(v, v.c.id == c.c.version_id).join(asset, asset.c.id == v.c.asset_id).join(cx, cx.c.id == asset.c.context_id)
            name = sa.func.coalesce(kept_name, c.c.name.op("||")(sa.func.coalesce(c.c.file_type, _text(""))))
            return {"from": joined, "table": c, "key": c.c.id, "parent": c.c.version_id, "project": self._project(cx),
                    "name": name, "created_at": v.c.date, "created_by": v.c.user_id}  # fmt: skip
        if kind.table == "note":
            n, cx = t["note"], self.context.alias("n_context")
            v, asset, vx = t["asset_version"].alias("n_version"), t["asset"].alias("n_asset"), self.context.alias("n_vcontext")
            joined = (n.outerjoin(cx, cx.c.id == n.c.parent_id).outerjoin(v, v.c.id == n.c.parent_id)
                      .outerjoin(asset, asset.c.id == v.c.asset_id).outerjoin(vx, vx.c.id == asset.c.context_id))  # fmt: skip
            project = sa.func.coalesce(cx.c.project_id, cx.c.id, vx.c.project_id, vx.c.id)
            return {"from": joined, "table": n, "key": n.c.id, "parent": sa.func.coalesce(n.c.in_reply_to_id, n.c.parent_id),
                    "project": project, "name": kept_name, "created_at": n.c.date, "created_by": n.c.user_id}  # fmt: skip
        if kind.table == "timelog":
            log, cx = t["timelog"], self.context.alias("t_context")
            return {"from": log.join(cx, cx.c.id == log.c.context_id), "table": log, "key": log.c.id, "parent": log.c.context_id,
                    "project": self._project(cx), "name": sa.func.coalesce(kept_name, log.c.name), "created_at": log.c.start,
                    "created_by": log.c.user_id}  # fmt: skip
        if kind.table == "list":  # a Playlist: a list of versions of its project
            lst = t["list"]
            return {"from": lst, "table": lst, "key": lst.c.id, "parent": lst.c.project_id, "project": lst.c.project_id,
                    "name": lst.c.name, "created_at": lst.c.date, "created_by": lst.c.user_id}  # fmt: skip
        raise ValueError(f"mapping.json: no child entity table {kind.table!r}")

    def _only(self, kind: ItemType, select: sa.Select[Any], table: Any) -> sa.Select[Any]:
        """``select`` kept to the rows ``kind`` reads: a version's components, a list of versions."""
        if kind.table == "component":
            return select.where(table.c.version_id.is_not(None))
        if kind.table == "list":
            return select.where(table.c.system_type == _text("assetversion"))
        return select

    def _shown(self, column: Any, form: str) -> Any:
        """An attribute of ours as Aquarium writes the data key it was converted from (text)."""
        if form == "iso_duration":  # seconds, as an ISO 8601 duration: PT5400S
            seconds = sa.cast(sa.func.round(column), sa.Integer)
            return _text("PT").op("||")(sa.cast(seconds, sa.Text)).op("||")(_text("S"))
        if form == "datetime":
            if self.postgres:
                return sa.func.to_char(column, _text('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
            return sa.func.strftime(_text("%Y-%m-%dT%H:%M:%fZ"), column)
        return sa.cast(column, sa.Text)

    def items(self, kind: ItemType, columns: list[str], readable: frozenset[str] | None) -> sa.Select[Any]:
        """The rows of the item relation ``kind``'s table holds (columns as :class:`.relations.Relations` lays them)."""
        s, a = self.source(kind), self.item_table
        table = s["table"]
        values = {key: table.c[attr] for key, attr in kind.data.items()}
        values["name"] = s["name"]
        for key, (attr, form) in kind.converted.items():  # as sent when Aquarium's routes wrote it, else in Aquarium's form
            values[key] = sa.func.coalesce(self.values.text(a.c.data, [key]), self._shown(table.c[attr], form))
        cells = [(values[key] if values.get(key) is not None else sa.null()).label(key) for key in columns]
        select = (
            sa.select(s["key"].label("key"), _text(kind.name).label("type"), sa.false().label("generic"), *cells,
                      a.c.data.label("extra"), sa.func.coalesce(a.c.created_at, s["created_at"]).label("created_at"),
                      sa.func.coalesce(a.c.updated_at, a.c.created_at, s["created_at"]).label("updated_at"),
                      sa.func.coalesce(a.c.created_by, s["created_by"]).label("created_by"),
                      sa.func.coalesce(a.c.updated_by, a.c.created_by, s["created_by"]).label("updated_by"),
                      s["project"].label("project"))
            .select_from(s["from"].outerjoin(a, a.c.key == s["key"]))
            .where(s["project"].is_not(None))
        )  # fmt: skip
        select = self._only(kind, select, table)
        if readable is not None:
            select = select.where(s["project"].in_(sorted(readable)))
        return select

    def child_edges(self, kind: ItemType, prefix: str) -> sa.Select[Any]:
        """The Child edges of ``kind``'s rows from their parents (data kept beside them, if any)."""
        s, e = self.source(kind), self.edge_table
        key = _text(prefix).op("||")(s["key"])
        select = (
            sa.select(key.label("key"), _text("Child").label("type"), s["parent"].label("from_key"), s["key"].label("to_key"),
                      sa.func.coalesce(e.c.data, _text("{}")).label("data"))
            .select_from(s["from"].outerjoin(e, e.c.key == key))
            .where(s["parent"].is_not(None))
        )  # fmt: skip
        return self._only(kind, select, s["table"])

    # --- writing ------------------------------------------------------------------------------

    def create(self, batch: BatchContext, writer: Any, kind: ItemType, key: str, data: dict[str, Any],
               parent: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        """The values of a new ``kind`` entity under the item ``parent`` (an Asset made first for a Version)."""
        values: dict[str, Any] = {"__entity_type__": kind.ours, "id": key}
        values.update({attr: data[k] for k, attr in kind.data.items() if k in data})
        values.update(self.converted(batch, kind, data))
        if kind.table == "asset_version":
            values.update(self._asset_of(batch, writer, parent))
            number = re.search(r"\d+", str(data.get("name") or ""))
            if number is not None:
                values["version"] = int(number.group())
        elif kind.table == "component":
            name = str(data.get("originalname") or data.get("name") or "main")
            values.update(version_id=parent["_key"], name=os.path.splitext(name)[0] or name)
        elif kind.table == "note":
            values.setdefault("content", "")
            if parent["type"] == "Comment":
                thread = batch.connection.execute(sa.select(self.tables["note"].c.parent_id, self.tables["note"].c.parent_type)
                                                  .where(self.tables["note"].c.id == parent["_key"])).first()  # fmt: skip
                if thread is None:
                    raise ValidationError(f"Comment {parent['_key']} is not a note of ours to reply to", "bad_request")
                values.update(parent_id=thread.parent_id, parent_type=thread.parent_type, in_reply_to_id=parent["_key"])
            else:
                values.update(parent_id=parent["_key"], parent_type=self._type_of(batch, parent))
        elif kind.table == "list":
            values.update(self._list_of(batch, parent), system_type="assetversion")
            values.setdefault("name", "")
        elif kind.table == "timelog":
            values["context_id"] = parent["_key"]
            if isinstance(data.get("name"), str):
                values["name"] = data["name"]
        return values

    def converted(self, batch: BatchContext, kind: ItemType, data: dict[str, Any]) -> dict[str, Any]:
        """The attributes of ours the converted keys of ``data`` give (an ISO duration as seconds …)."""
        return {attr: self._convert(batch, k, data[k], form) for k, (attr, form) in kind.converted.items()
                if data.get(k) not in (None, "")}  # fmt: skip

    def _convert(self, batch: BatchContext, key: str, value: Any, form: str) -> Any:
        if form == "iso_duration":
            return iso_duration(value)
        if form == "datetime":
            return _moment(value)
        if form == "user":
            users = self.tables["resource"]
            user = sa.select(users.c.id).where(users.c.id == str(value), users.c.resource_type == "user")
            found = batch.connection.execute(user).scalar()
            if found is None:
                raise ValidationError(f"{key} {value!r} is not the key of a user", "bad_request")
            return found
        raise ValueError(f"mapping.json: no conversion {form!r}")

    def _list_of(self, batch: BatchContext, parent: dict[str, Any]) -> dict[str, Any]:
        """``project_id`` and ``category_id`` of a Playlist made under the Project ``parent`` (the first list category)."""
        categories = self.tables["list_category"]
        category = batch.connection.execute(sa.select(categories.c.id).order_by(categories.c.name != "Dailies",
                                                                                categories.c.name).limit(1)).scalar()  # fmt: skip
        if category is None:
            raise ValidationError("A Playlist needs a list category of ours, and there is none", "bad_request")
        return {"project_id": parent["_key"], "category_id": category}

    def _type_of(self, batch: BatchContext, parent: dict[str, Any]) -> str:
        if parent["type"] == "Version":
            return "AssetVersion"
        if parent["type"] == "Project":
            return "Project"
        c, o = self.context, self.object_type
        found = batch.connection.execute(sa.select(o.c.name).select_from(c.join(o, o.c.id == c.c.object_type_id))
                                         .where(c.c.id == parent["_key"])).scalar()  # fmt: skip
        return str(found or "TypedContext").replace(" ", "")

    def _asset_of(self, batch: BatchContext, writer: Any, parent: dict[str, Any]) -> dict[str, Any]:
        """``asset_id`` (and ``task_id``) of a version under ``parent``: a Task's is the asset named after it under its
        parent; any other context's, its asset ``main``. Made (of type Upload) the first time."""
        c = self.context
        row = batch.connection.execute(sa.select(c.c.parent_id, c.c.name).where(c.c.id == parent["_key"])).first()
        if row is None:
            raise ValidationError(f"A Version is made under a context of ours, not under {parent['type']} {parent['_key']}",
                                  "bad_request")  # fmt: skip
        task = parent["type"] == "Task" and row.parent_id is not None
        context, name = (row.parent_id, row.name) if task else (parent["_key"], "main")
        assets, types = self.tables["asset"], self.tables["asset_type"]
        asset = batch.connection.execute(sa.select(assets.c.id).where(assets.c.context_id == context, assets.c.name == name)).scalar()
        if asset is None:
            asset = str(uuid.uuid4())
            kind = batch.connection.execute(sa.select(types.c.id).order_by(types.c.short != "upload").limit(1)).scalar()
            writer.create(batch, "Asset", {"__entity_type__": "Asset", "id": asset, "name": name, "context_id": context,
                                           "type_id": kind})  # fmt: skip
        return {"asset_id": asset, **({"task_id": parent["_key"]} if task else {})}
