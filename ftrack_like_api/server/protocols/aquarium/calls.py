"""Aquarium's routes as the engine's work: each request one operation of the action ``aquarium_read`` or
``aquarium_write`` (registered here), so it runs in one transaction, as the caller, under their
project permissions, and what it writes is logged as ``ftrack.update`` events like any change."""

from __future__ import annotations

import uuid
from typing import Any, Mapping as MappingType

import sqlalchemy as sa

from ....exceptions import ValidationError
from ...engine.batch import BatchContext
from .events import AquariumEvents
from .mapping import Mapping
from .meshql.grammar import parse
from .queries import Queries
from .relations import Relations
from .organisation import Organisation
from .store import Store
from .cleanup import Forget
from .copies import copy_tree
from .files import ITEM_KEY
from .history import history
from .uploads import keep_component, keep_media

__all__ = ["Calls", "READS", "TRASH", "WRITES"]

#: The edge type that puts an item in the trash (from the user who trashed it).
TRASH = "Trash"
READS = frozenset({"traverse_trashed", "upload_target", "download_target", "history", "get", "get_edge", "query", "traverse", "users", "me",
                   "members", "members_of"})  # fmt: skip
WRITES = frozenset({"join", "leave", "organisation", "upload", "create", "append", "update", "delete", "connect", "change_edge",
                    "disconnect", "trash", "restore", "create_user", "copy", "move"})  # fmt: skip


class Calls:
    """Every call of Aquarium's routes over one backend."""

    def __init__(self, backend: Any, mapping: Mapping) -> None:
        self.backend, self.mapping = backend, mapping
        self.relations = Relations(backend.storage, mapping)
        self.events = AquariumEvents(backend, mapping)
        self.store = Store(backend, mapping, self.relations, self.events)
        self.queries = Queries(backend, mapping, self.relations)
        self.organisation = Organisation(self.store, self.relations)
        backend.after_commit(Forget(backend))
        backend.after_commit(self.events.committed)
        backend.register_action("aquarium_read", self._run)
        backend.register_action("aquarium_write", self._run, writes=True)

    def _run(self, batch: BatchContext, operation: MappingType[str, Any]) -> Any:
        call, p = operation.get("call"), dict(operation.get("params") or {})
        store = self.store
        if call == "get":
            return self._populated(batch, store.item(batch, p["key"])) if _yes(p.get("populate")) else store.item(batch, p["key"])
        if call == "history":
            item = store.item(batch, p["key"])
            return history(self.backend, item, self.mapping.item(item["type"]))
        if call == "move":
            return store.move(batch, p["key"], p.get("oldParentKey"), p.get("newParentKey"))
        if call == "copy":
            return copy_tree(store, batch, p["key"], p.get("targetKey"))
        if call == "download_target":
            return self._download(batch, p["key"])
        if call == "get_edge":
            return store.edge(batch, p["key"])
        if call == "query":
            return self.queries.run(batch, p.get("query"), p.get("aliases"), None)
        if call == "traverse":
            store.item(batch, p["key"])
            return self.queries.run(batch, p.get("query"), p.get("aliases"), str(p["key"]))
        if call == "traverse_trashed":
            return self._trashed(batch, p)
        if call == "create":
            return store.item(batch, store.create(batch, p.get("type"), p.get("data")))
        if call == "append":
            return self._append(batch, p)
        if call == "update":
            store.update(batch, p["key"], p.get("data"), deep=p.get("deep", True) is not False, replace=bool(p.get("replace")))
            return store.item(batch, p["key"])
        if call == "delete":
            return store.delete(batch, p["key"])
        if call == "connect":
            return store.edge(batch, store.connect(batch, p.get("type"), p.get("from"), p.get("to"), p.get("data")))
        if call == "change_edge":
            store.change_edge(batch, p["key"], p.get("data"), deep=p.get("deep", True) is not False, replace=bool(p.get("replace")))
            return store.edge(batch, p["key"])
        if call == "disconnect":
            return store.disconnect(batch, p["key"])
        if call == "trash":
            return self._trash(batch, p["key"])
        if call == "restore":
            return self._restore(batch, p["key"])
        if call == "users":
            return self.queries.run(batch, "# $User SORT item.data.name ASC", {}, None)
        if call == "me":
            return store.item(batch, batch.user_id)
        if call == "members_of":
            group = str(self.store.item(batch, p["key"])["_key"])
            return self.queries.run(batch, "# -($Member)> $User SORT item.data.name VIEW item", {}, group)
        if call == "join":
            return store.edge(batch, store.connect(batch, "Member", p["key"], p.get("userKey")))
        if call == "leave":
            return self._leave(batch, p)
        if call == "organisation":
            return store.item(batch, self.organisation.ensure(batch))
        if call == "members":
            return self.organisation.members(batch, p)
        if call == "upload":
            return self._upload(batch, p)
        if call == "upload_target":
            return self._media(batch, p["key"])
        if call == "create_user":
            return self._create_user(batch, p)
        raise ValidationError(f"Unknown call {call!r}", "bad_request")

    def _append(self, batch: BatchContext, p: dict[str, Any]) -> dict[str, Any]:
        parent = self.store.item(batch, p["key"])
        item, edge = p.get("item") or {}, p.get("edge") or {}
        if not isinstance(item, dict) or not isinstance(edge, dict):
            raise ValidationError("append takes {item: {type, data}, edge: {type, data}}", "bad_request")
        edge_type = edge.get("type") or "Child"
        relation = self.mapping.edge(edge_type, parent["type"], str(item.get("type")))
        under = parent["_key"] if relation is not None and relation.ours == "parent" else None
        key = self.store.create(batch, item.get("type"), item.get("data"), parent=under)
        if under is not None:
            edge_key = self.store.connect_made(batch, edge_type, parent["_key"], key, edge.get("data"))
        else:
            edge_key = self.store.connect(batch, edge_type, parent["_key"], key, edge.get("data"))
        return {"item": self.store.item(batch, key), "edge": self.store.edge(batch, edge_key)}

    def _leave(self, batch: BatchContext, p: dict[str, Any]) -> dict[str, Any]:
        edges = self.relations.edges(("Member",))
        key = batch.connection.execute(sa.select(edges.c.key).where(edges.c.from_key == str(p["key"]),
                                                                    edges.c.to_key == str(p.get("userKey")))).scalar()  # fmt: skip
        if key is None:
            raise ValidationError(f"User {p.get('userKey')} is not in usergroup {p['key']}", "not_found")
        return self.store.disconnect(batch, key)

    def _trashed(self, batch: BatchContext, p: dict[str, Any]) -> list[Any]:
        """``traverse_trashed`` (``get_trash``): the answers of a traversal from item ``key`` whose item is in the trash
        (has a Trash edge), as ``{item, edge}``; a VIEW of its own is refused (the answers must name their items)."""
        self.store.item(batch, p["key"])
        if parse(str(p.get("query") or ""), p.get("aliases") if isinstance(p.get("aliases"), dict) else {}).view is not None:
            raise ValidationError("A trashed traversal answers {item, edge}: leave its VIEW out", "bad_request")
        rows = self.queries.run(batch, p.get("query"), p.get("aliases"), str(p["key"]))
        keys = [row["item"]["_key"] for row in rows if isinstance(row, dict) and isinstance(row.get("item"), dict)]
        table = self.relations.edge_table
        trashed = set(batch.connection.execute(sa.select(table.c.to_key).where(table.c.type == TRASH, table.c.to_key.in_(keys))).scalars())
        return [row for row in rows if row["item"]["_key"] in trashed]

    def _trash(self, batch: BatchContext, key: Any) -> dict[str, Any]:
        item = self.store.item(batch, key)
        table = self.relations.edge_table
        found = batch.connection.execute(sa.select(table.c.key).where(table.c.type == TRASH, table.c.to_key == item["_key"])).scalar()
        edge = found or self.store.connect(batch, TRASH, batch.user_id, item["_key"], {})
        return {"item": item, "edge": self.store.edge(batch, edge)}

    def _restore(self, batch: BatchContext, key: Any) -> dict[str, Any]:
        item = self.store.item(batch, key)
        table = self.relations.edge_table
        gone = list(batch.connection.execute(sa.select(table.c.key).where(table.c.type == TRASH, table.c.to_key == item["_key"])).scalars())
        for key in gone:
            self.store.disconnect(batch, key)
        if not gone:
            raise ValidationError(f"Item {item['_key']} is not in the trash", "not_found")
        return item

    def _populated(self, batch: BatchContext, item: dict[str, Any]) -> dict[str, Any]:
        """``item`` with ``createdBy`` and ``updatedBy`` the users' items (``populate=true``), where the caller sees them."""
        users = self.store.items(batch, [k for k in (item["createdBy"], item["updatedBy"]) if isinstance(k, str)])
        return {**item, "createdBy": users.get(item["createdBy"], item["createdBy"]),
                "updatedBy": users.get(item["updatedBy"], item["updatedBy"])}  # fmt: skip

    def _download(self, batch: BatchContext, key: Any) -> dict[str, Any]:
        """The component whose file ``download_file`` reads on item ``key``: a Media's own, else the last file uploaded on
        the item; and the file's name."""
        item = self.store.item(batch, key)
        kind = self.mapping.item(item["type"])
        component: Any = None
        if kind is not None and kind.table == "component" and not self.store.kept_whole(batch, item["_key"]):
            component = item["_key"]
        else:
            meta = self.backend.storage.tables["metadata"]
            component = batch.connection.execute(sa.select(meta.c.parent_id).where(meta.c.key == ITEM_KEY, meta.c.value == item["_key"])
                                                 .order_by(meta.c.parent_id)).scalars().all()  # fmt: skip
            path = str(item["data"].get("path") or "")
            chosen = [c for c in component if path.startswith(f"/files/{c}")]
            component = (chosen or component or [None])[-1]
        if component is None:
            raise ValidationError(f"Item {item['_key']} has no file", "not_found")
        name = item["data"].get("originalname") or item["data"].get("name") or str(component)
        return {"component": str(component), "filename": str(name)}

    def _media(self, batch: BatchContext, key: Any) -> str | None:
        """The component an upload on item ``key`` is the file of: the item's own when it is a Media of ours (the caller
        may change it), else None (a new component)."""
        item = self.store.item(batch, key)
        kind = self.mapping.item(item["type"])
        if kind is None or kind.table != "component" or self.store.kept_whole(batch, item["_key"]):
            return None
        self.store.may_write(batch, item["_key"])
        return str(item["_key"])

    def _upload(self, batch: BatchContext, p: dict[str, Any]) -> dict[str, Any]:
        upload = p["upload"]
        item = None if p.get("key") is None else str(self.store.item(batch, p["key"])["_key"])
        if item is not None and item == upload.id:
            keep_media(self.backend, batch, upload)
        else:
            keep_component(self.backend, batch, upload, item)
        media = upload.media(p.get("base_url", ""))
        if p.get("key") is None:
            return media
        self.store.update(batch, p["key"], {**upload.data(), **media})
        return self.store.item(batch, p["key"])

    def _create_user(self, batch: BatchContext, p: dict[str, Any]) -> dict[str, Any]:
        email = p.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise ValidationError("A user needs an email", "bad_request")
        name = p.get("name") if isinstance(p.get("name"), str) else email.split("@")[0]
        resource = self.relations.resource
        taken = sa.or_(resource.c.username == email, resource.c.email == email)
        if batch.connection.execute(sa.select(resource.c.id).where(taken)).first():
            raise ValidationError(f"A user with the email {email} exists already", "conflict")
        key = str(uuid.uuid4())
        self.backend.writer.create(batch, "User", {"__entity_type__": "User", "id": key, "username": email, "email": email,
                                                   "first_name": name})  # fmt: skip
        return self.store.item(batch, key)


def _yes(value: Any) -> bool:
    """A query-string flag (``populate=true``) as sent by Aquarium's client."""
    return value is True or str(value).lower() in ("true", "1", "yes")
