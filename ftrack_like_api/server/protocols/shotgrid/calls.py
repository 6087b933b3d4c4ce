"""ShotGrid's methods as the engine's work, inside one batch (one transaction).

The endpoint hands each request to the backend as one operation of the action
``shotgrid_read`` or ``shotgrid_write`` (registered here): so a method runs in the batch's
transaction, under the caller's project permissions, and what it writes is checked and
logged as ``ftrack.update`` events like any other change. Reads become a query of the
engine (filters compiled by :mod:`.filters`, rendered from the AST); writes go through the
engine's writer, each checked by its permissions first.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any, Mapping as MappingType

from ....exceptions import ValidationError
from ....query import ast, render
from ....schema import Kind
from ...engine.batch import BatchContext
from . import presets
from .apiusers import ApiUsers
from .eventlog import EventLogEntries
from .custom import CustomFields
from .filters import FilterCompiler
from .ids import IntegerIds
from .mapping import Mapping, SgType
from .notes import fill_note_links, moved, placed_on
from .pages import Pages
from .publishes import Publishing
from .records import Records
from .retired import Retirement
from .schema import schema_answer
from .searches import Searches, _params
from .summaries import Summaries
from .values import ASSET_PARENT, Values
from .writes import Writes, among

__all__ = ["Calls", "READS", "WRITES"]

#: The methods that only read, and those that write.
READS = frozenset({"read", "summarize", "query_display_name_cache", "schema_read", "schema_entity_read", "schema_field_read"})
WRITES = frozenset({"create", "update", "delete", "revive", "batch", "schema_field_create", "schema_field_update",
                    "schema_field_delete"})  # fmt: skip

#: The most entities one page holds (what ``info`` tells the client).
PAGE = 500


class Calls(Searches, Publishing):
    """ShotGrid's methods over one backend."""

    def __init__(self, backend: Any, mapping: Mapping) -> None:
        self.backend, self.mapping = backend, mapping
        self.ids = IntegerIds(backend.storage.shotgrid["shotgrid_id"])
        self.records = Records(mapping)
        self.pages = Pages(backend.reader, backend.schema, mapping, self.ids)
        self.values = Values(mapping, backend.schema)
        self.custom = CustomFields(backend, self._check)
        self.writes = Writes(backend, self._check, self.custom)
        self.retirement = Retirement(backend, backend.storage.shotgrid["shotgrid_retired"])
        self.events = EventLogEntries(mapping, backend.schema, backend.storage.events["event_log"],
                                      backend.storage.shotgrid["shotgrid_event"],
                                      lambda ours: backend.storage.table(backend.schema[ours]),
                                      backend.storage.shotgrid["shotgrid_retired"])  # fmt: skip
        self.api_users = ApiUsers(backend.auth.keys, backend.storage.tables["resource"], backend.storage.shotgrid["shotgrid_id"])
        backend.register_action("shotgrid_read", self._run)
        backend.register_action("shotgrid_write", self._run, writes=True)

    def _run(self, batch: BatchContext, operation: MappingType[str, Any]) -> Any:
        method, params = operation.get("method"), operation.get("params")
        if method == "read":
            return self.read(batch, params)
        if method == "batch":
            return self.batch(batch, params)
        if method == "summarize":
            return self.summarize(batch, params)
        if method == "query_display_name_cache":
            return self.text_search(batch, params)
        if method in ("create", "update", "delete", "revive", "thumbnail", "attach"):
            return getattr(self, method)(batch, params)
        if method in ("schema_read", "schema_field_read", "schema_entity_read"):
            return schema_answer(self.mapping, method, params, lambda sg_type: self.custom.typed(batch, sg_type))
        if method in ("schema_field_create", "schema_field_update", "schema_field_delete"):
            return self.custom.call(batch, self.mapping, method, _params(params))
        raise ValidationError(f"Unknown method {method!r}", "unknown_method")

    # --- reading -----------------------------------------------------------------------------

    def read(self, batch: BatchContext, params: Any) -> dict[str, Any]:
        """``find``: a page of records, and whether another follows."""
        params = _params(params)
        fields = _names(params.get("return_fields") or ["id"], "return_fields")
        paging = params.get("paging") or {}
        per_page, page = paging.get("entities_per_page", PAGE), paging.get("current_page", 1)
        if not (isinstance(per_page, int) and 0 < per_page <= PAGE and isinstance(page, int) and page > 0):
            raise ValidationError(f"paging is entities_per_page 1-{PAGE} and current_page from 1, not {paging!r}", "bad_paging")
        if params.get("type") == "EventLogEntry":
            return self._events(batch, params, fields, per_page, page)
        if params.get("type") == "ApiUser":
            return self._api_users(batch, params, fields, per_page, page)
        sg_type = self.typed(batch, params.get("type"), _named(params, fields))
        if params.get("return_only") == "retired":
            return self._retired(batch, sg_type, params.get("filters"), fields, per_page, page)
        where = self._live(batch, sg_type, params, sg_type.scoped(self.compiler(batch).compile(sg_type, params.get("filters"))))
        if params.get("additional_filter_presets") is not None:  # ShotGrid's LATEST (:mod:`.presets`)
            where = presets.narrowed(sg_type, where, params["additional_filter_presets"],
                                     lambda text: self.backend.reader.query(batch.connection, text)["data"])  # fmt: skip
        query = ast.Query(sg_type.ours, tuple(ast.Path.of(p) for p in self.records.projections(sg_type, fields)), where,
                          order_by=self._order(sg_type, params.get("sorts")), offset=(page - 1) * per_page, limit=per_page)  # fmt: skip
        _, entities, metadata = self._records(batch, sg_type, query, fields)
        more = metadata["next"].get("offset") is not None
        return {"entities": entities, "paging_info": {"has_next_page": more, "current_page": page, "entities_per_page": per_page}}

    def summarize(self, batch: BatchContext, params: Any) -> dict[str, Any]:
        """``summarize``: summaries of the records the filters find, in groups if asked (:mod:`.summaries`)."""
        params = _params(params)
        sg_type = self.typed(batch, params.get("type"))
        where = self._live(batch, sg_type, params, sg_type.scoped(self.compiler(batch).compile(sg_type, params.get("filters"))))

        def query(text: str) -> list[dict[str, Any]]:
            return self.backend.reader.query(batch.connection, text)["data"]  # type: ignore[no-any-return]

        def links(field: Any, keys: list[str]) -> dict[str, Any]:
            found: dict[str, tuple[SgType, str | None]] = {}
            for type_name in field.types:
                linked = self.mapping.type(type_name)
                paths = (ast.Path.of("id"), *(ast.Path.of(n) for n in self.records.name_attrs(linked)))
                for row in query(render(ast.Query(linked.ours, paths, among(keys)))):
                    found[row["id"]] = (linked, self.records.link_name(linked, row))
            numbers = self.ids.numbers(batch.connection, {key: linked.ours for key, (linked, _) in found.items()})
            return {key: {"type": linked.name, "id": numbers[key], "name": name} for key, (linked, name) in found.items()}

        return Summaries(self.mapping, query, links).summarize(sg_type, where, params.get("summaries"), params.get("grouping"))

    def typed(self, batch: BatchContext, name: Any, named: set[str] | None = None) -> SgType:
        """The ShotGrid type called ``name``, with the custom fields it has now (read once a batch). ``named``: the
        fields a call names (None: not known) — when the type has each itself, its custom fields are not read (a
        type's own fields win a name a custom one has too, so they would change nothing): a statement less."""
        sg_type = self.mapping.type(name)
        if named is not None and named <= sg_type.fields.keys():
            return sg_type
        return batch.remember(("shotgrid type", sg_type.name), lambda: self.custom.typed(batch, sg_type))  # type: ignore[no-any-return]

    def _live(self, batch: BatchContext, sg_type: SgType, params: dict[str, Any],
              where: ast.Expression | None) -> ast.Expression | None:  # fmt: skip
        """``where``, and not in an archived project when ``include_archived_projects`` is False."""
        if params.get("include_archived_projects") is not False:
            return where
        if sg_type.name == "Project":
            path = "archived"
        elif "project" in sg_type.fields and sg_type.fields["project"].kind == "entity":
            path = "project.Project.archived"
        else:
            return where
        live = self.compiler(batch).relation(sg_type, path, "is_not", [True])
        return live if where is None else ast.And((where, live))

    def compiler(self, batch: BatchContext) -> FilterCompiler:
        return FilterCompiler(self.mapping, lambda numbers: self.ids.uuids(batch.connection, numbers),
                              lambda ours, relation, bounds: self.ids.compared(batch.connection, ours, relation, bounds),
                              column=self._key_column)  # fmt: skip

    def _key_column(self, ours: str, attr: str) -> str | None:
        """The attribute of our type ``ours`` holding the key of what its reference ``attr`` links to, if it has one."""
        attributes = self.backend.schema[ours].attributes
        reference = attributes.get(attr)
        if reference is None or reference.kind is not Kind.REFERENCE or len(reference.via) != 1:
            return None
        if self.backend.schema[reference.target].primary_key != ("id",):
            return None
        held = attributes.get(reference.via[0])
        return held.name if held is not None and held.kind is Kind.SCALAR and not held.computed and not held.hidden else None

    def _order(self, sg_type: SgType, sorts: Any) -> tuple[ast.OrderKey, ...]:
        keys: list[ast.OrderKey] = []
        for sort in sorts or ():
            if not isinstance(sort, dict) or not isinstance(sort.get("field_name"), str):
                raise ValidationError(f"An order is {{'field_name', 'direction'}}, not {sort!r}", "bad_order")
            descending = sort.get("direction", "asc") == "desc"
            field = sg_type.field(sort["field_name"])
            if field.kind == "id":
                paths = list(sg_type.order_id)
            elif field.kind == "status":
                paths = ["status.name"]
            elif field.kind in ("entity", "named"):
                paths = [f"{field.attr}.name"]
            elif field.kind == "scalar":
                paths = [field.attr]  # type: ignore[list-item]
            elif field.kind == "full_name":
                paths = list(field.attrs)
            else:
                raise ValidationError(f"{sg_type.name}.{field.name} cannot be sorted by here", "bad_order")
            keys.extend(ast.OrderKey(ast.Path.of(p), descending) for p in paths)
        keys.extend(ast.OrderKey(ast.Path.of(p)) for p in sg_type.order_id)  # pages follow one order
        return tuple(keys)

    def _records(self, batch: BatchContext, sg_type: SgType, query: ast.Query,
                 fields: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
        """The rows ``query`` finds, their records, and its answer's metadata: the numbers are read with the rows
        (:mod:`.pages`), a statement more only for entities and files that have none yet."""
        rows, numbers, unnumbered, metadata = self.pages.read(batch.connection, query)
        if unnumbered:
            numbers.update(self.ids.give(batch.connection, unnumbered))
        files = {key: kind for key, kind in self.records.files(sg_type, rows, fields).items() if key not in numbers}
        if files:
            numbers.update(self.ids.numbers(batch.connection, files))
        numbers.update(fill_note_links(self.mapping, sg_type, rows, fields,
                                       lambda text: self.backend.reader.query(batch.connection, text)["data"],
                                       self.records.name_attrs, self.records.link_name,
                                       lambda found: self.ids.numbers(batch.connection, found)))  # fmt: skip
        record = self.records.recorder(sg_type, fields)
        return rows, [record(row, numbers) for row in rows], metadata

    def _one(self, batch: BatchContext, sg_type: SgType, key: str, fields: list[str]) -> dict[str, Any]:
        return self._many(batch, sg_type, [key], fields)[key]

    def _many(self, batch: BatchContext, sg_type: SgType, keys: list[str], fields: list[str]) -> dict[str, dict[str, Any]]:
        """The records of the entities ``keys``, by uuid, in one query."""
        query = ast.Query(sg_type.ours, tuple(ast.Path.of(p) for p in self.records.projections(sg_type, fields)),
                          among(keys))  # fmt: skip
        rows, records, _ = self._records(batch, sg_type, query, fields)
        return {row["id"]: record for row, record in zip(rows, records)}

    # --- writing -----------------------------------------------------------------------------

    def create(self, batch: BatchContext, params: Any) -> dict[str, Any]:
        """A new entity; its record with the fields set and ``return_fields``."""
        sg_type, key, fields = self._create(batch, params)
        self.ids.numbers(batch.connection, {key: sg_type.ours})
        return self._one(batch, sg_type, key, fields)

    def _create(self, batch: BatchContext, params: Any) -> tuple[SgType, str, list[str]]:
        """Create the entity ``params`` describe: (its type, its uuid, the fields its record answers)."""
        params = _params(params)
        sg_type = self.typed(batch, params.get("type"))
        data, modes = _fields(params.get("fields"))
        given, own = self._publish(batch, sg_type, data, creating=True)
        entity, metadata, later = self._ours(batch, sg_type, given, creating=True)
        entity.update(own)
        key = str(uuid.uuid4())
        self._check(batch, "create", sg_type.ours)
        self.backend.writer.create(batch, sg_type.ours, {"__entity_type__": sg_type.ours, "id": key, **entity})
        self.writes.metadata(batch, sg_type, key, metadata, creating=True)
        self.writes.later(batch, sg_type, key, later, modes, creating=True)
        return sg_type, key, list(dict.fromkeys([*data, *_names(params.get("return_fields") or ["id"], "return_fields")]))

    def update(self, batch: BatchContext, params: Any) -> dict[str, Any]:
        """Change an entity's fields; its record with those fields."""
        params = _params(params)
        sg_type = self.typed(batch, params.get("type"))
        key = self._existing(batch, sg_type, params.get("id"))
        data, modes = _fields(params.get("fields"))
        query = lambda text: self.backend.reader.query(batch.connection, text)["data"]  # noqa: E731
        move = moved(sg_type, data, modes.get("note_links") or "set", lambda: placed_on(sg_type, key, query),
                     lambda linked, number: self._existing(batch, linked, number), self.mapping)  # a note's one parent
        given = {n: v for n, v in data.items() if n != "note_links"} if move is not None else data
        entity, metadata, later = self._ours(batch, sg_type, self._publish(batch, sg_type, given, creating=False)[0], creating=False)
        entity.update(move or {})
        self._keep_parent(batch, sg_type, key, data, entity)
        if entity:
            self._check(batch, "update", sg_type.ours)
            self.backend.writer.update(batch, sg_type.ours, [key], entity)
        self.writes.metadata(batch, sg_type, key, metadata, creating=False)
        self.writes.later(batch, sg_type, key, later, modes, creating=False)
        return self._one(batch, sg_type, key, list(data))

    def _keep_parent(self, batch: BatchContext, sg_type: SgType, key: str, data: dict[str, Any], entity: dict[str, Any]) -> None:
        """An update's ``project`` never moves an entity that hangs under another (a Task under its Shot): the
        project it has already is no change, another is refused (the project follows the ``entity``). One right
        under its project moves to the project given."""
        project = sg_type.fields.get("project")
        under = [f.name for f in sg_type.fields.values() if f.kind == "entity" and f.attr == "parent" and not f.parent]
        if project is None or not project.parent or not under or "parent_id" not in entity or any(n in data for n in under):
            return
        query = ast.Query(sg_type.ours, (ast.Path.of("project_id"), ast.Path.of("parent_id")), among([key]))
        row = self.backend.reader.query(batch.connection, render(query))["data"][0]
        current = row.get("project_id")
        if row.get("parent_id") == current:  # right under its project: it moves to the other one
            return
        if current != entity["parent_id"]:
            raise ValidationError(f"{sg_type.name}.project follows its {under[0]}: set {under[0]} to move it", "bad_value")
        del entity["parent_id"]

    def delete(self, batch: BatchContext, params: Any) -> bool:
        """Retire an entity: deleted through the engine, its rows kept for ``revive`` (:mod:`.retired`); False
        when it is retired already."""
        params = _params(params)
        sg_type = self.mapping.type(params.get("type"))
        number = params.get("id")
        known = self.ids.uuids(batch.connection, [number]).get(number) if isinstance(number, int) else None
        if known is not None and self.retirement.holds(batch.connection, sg_type.ours, known):
            return False
        key = self._existing(batch, sg_type, params.get("id"))
        self._check(batch, "delete", sg_type.ours)
        self.retirement.retire(batch, sg_type.ours, key)
        return True

    def revive(self, batch: BatchContext, params: Any) -> bool:
        """Bring a retired entity back, with what was retired with it; False when it is not retired."""
        params = _params(params)
        sg_type = self.mapping.type(params.get("type"))
        number = params.get("id")
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValidationError(f"An id of {sg_type.name} is a whole number, not {number!r}", "bad_value")
        key = self.ids.uuids(batch.connection, [number]).get(number)
        if key is None:
            raise ValidationError(f"{sg_type.name} with id {number} doesn't exist", "not_found")
        self._check(batch, "create", sg_type.ours)
        return self.retirement.revive(batch, sg_type.ours, key, f"{sg_type.name} {number}")

    def thumbnail(self, batch: BatchContext, params: Any) -> int:
        """An uploaded image (its file already kept) as a component in the server location, and the entity's thumbnail."""
        params = _params(params)
        sg_type = self.mapping.type(params.get("type"))
        image = sg_type.fields.get("image")
        if image is None:
            raise ValidationError(f"{sg_type.name} has no thumbnail here", "unknown_field")
        ours, key = sg_type.ours, self._existing(batch, sg_type, params.get("id"))
        if image.attr:  # the thumbnail of the entity it names (a PublishedFile's version)
            ours = str(self.backend.schema[ours].attributes[image.attr].target)
            query = ast.Query(sg_type.ours, (ast.Path.of(f"{image.attr}.id"),), among([key]))
            linked = (self.backend.reader.query(batch.connection, render(query))["data"][0].get(image.attr) or {}).get("id")
            if linked is None:
                raise ValidationError(f"{sg_type.name}.image is its {image.attr}'s thumbnail, and it has none", "bad_value")
            key = str(linked)
        component = params["component"]
        self._check(batch, "update", ours)
        self.writes.component(batch, component, params["name"], params["file_type"], params["size"])
        writer = self.backend.writer
        writer.update(batch, ours, [key], {"thumbnail_id": component})
        return self.ids.numbers(batch.connection, {component: "FileComponent"})[component]

    def attach(self, batch: BatchContext, params: Any) -> int:
        """An uploaded file (kept already) as an Attachment — a component of ours in the server location — and the
        value of the entity's file field ``field_name`` if given (a Version's ``sg_uploaded_movie``); its id."""
        params = _params(params)
        sg_type = self.mapping.type(params.get("type"))
        key = self._existing(batch, sg_type, params.get("id"))
        name = params.get("field_name")
        field = sg_type.field(name) if name else None
        if field is not None and field.kind != "file":
            raise ValidationError(f"{sg_type.name}.{name} is not a file field", "bad_value")
        component, display = params["component"], str(params["display_name"])
        stem, suffix = os.path.splitext(display)
        version = key if sg_type.ours == "AssetVersion" else None
        self.writes.component(batch, component, stem or display, suffix, params["size"], version)
        attachment = self.mapping.type("Attachment")
        tags = [t.strip() for t in str(params.get("tag_list") or "").split(",") if t.strip()]
        if tags:
            self.writes.metadata(batch, attachment, component, {"tag_list": json.dumps(tags)}, creating=True)
        if field is not None:
            self._check(batch, "update", sg_type.ours)
            kept = json.dumps({"id": component, "name": display, "content_type": params.get("content_type")})
            self.writes.metadata(batch, sg_type, key, {str(field.key): kept}, creating=False)
        return self.ids.numbers(batch.connection, {component: attachment.ours})[component]

    def batch(self, batch: BatchContext, requests: Any) -> list[Any]:
        """Several creates, updates and deletes in this one transaction: all of them, or none."""
        if not isinstance(requests, list):
            raise ValidationError("batch takes a list of requests", "bad_request")
        results: list[Any] = []
        created: dict[int, tuple[SgType, str, list[str]]] = {}  # answered together once all have run
        for index, request in enumerate(requests):
            if not isinstance(request, dict) or request.get("request_type") not in ("create", "update", "delete"):
                raise ValidationError(f"Request {index}: request_type is create, update or delete, not {request!r}", "bad_request")
            kind = request["request_type"]
            try:
                if kind == "create":
                    created[index] = self._create(batch, request)
                    results.append(None)
                else:
                    results.append(getattr(self, kind)(batch, request))
            except ValidationError as error:
                shown = f"{kind} {request.get('type')}" + (f" {request['id']}" if request.get("id") is not None else "")
                raise ValidationError(f"Request {index} ({shown}) failed, nothing of the batch was stored: {error.reason}",
                                      error.code) from None  # fmt: skip
        if created:
            self.ids.numbers(batch.connection, {key: sg_type.ours for sg_type, key, _ in created.values()})  # in order
            shapes: dict[tuple[str, tuple[str, ...]], list[int]] = {}
            for index, (sg_type, _, fields) in created.items():
                shapes.setdefault((sg_type.name, tuple(fields)), []).append(index)
            for (type_name, shape), indexes in shapes.items():
                records = self._many(batch, self.typed(batch, type_name), [created[i][1] for i in indexes], list(shape))
                for index in indexes:
                    results[index] = records[created[index][1]]
        return results

    def _check(self, batch: BatchContext, action: str, ours: str) -> None:
        self.backend.permissions.check(batch.principal, {"action": action, "entity_type": ours})

    def _ours(self, batch: BatchContext, sg_type: SgType, data: dict[str, Any],
              creating: bool) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:  # fmt: skip
        def find(text: str) -> Any:  # a status or type by name: the same answer all through a batch
            return batch.remember(("shotgrid find", text), lambda: self.writes.first_id(batch, text))

        def linked(linked_type: SgType, number: Any) -> str:  # what a batch links to (a request deleting it fails in SQL)
            return batch.remember(("shotgrid link", linked_type.name, number), lambda: self._existing(batch, linked_type, number))  # type: ignore[no-any-return]

        entity, metadata, later = self.values.ours(sg_type, data, linked, find, creating)
        if ASSET_PARENT in entity:
            entity["asset_id"] = self.writes.asset(batch, sg_type, entity.pop(ASSET_PARENT))
        return entity, metadata, later

    def _existing(self, batch: BatchContext, sg_type: SgType, number: Any) -> str:
        """The uuid of ``sg_type``'s entity numbered ``number`` that the caller can see; an error otherwise."""
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValidationError(f"An id of {sg_type.name} is a whole number, not {number!r}", "bad_value")
        key = self.ids.uuids(batch.connection, [number]).get(number)
        if key is not None:
            named = sg_type.scoped(ast.Comparison(ast.Path.of("id"), ast.Operator.IS, ast.Literal(key)))
            query = ast.Query(sg_type.ours, (ast.Path.of("id"),), named)
            if self.backend.reader.query(batch.connection, render(query))["data"]:
                return key
        raise ValidationError(f"{sg_type.name} with id {number} doesn't exist", "not_found")


def _named(params: dict[str, Any], fields: list[str]) -> set[str] | None:
    """The fields of the queried type a ``read`` names — in its return fields, filters and sorts, a deep field by its
    first part — or None when it says more than those (presets, filters of another form)."""
    if params.get("additional_filter_presets") is not None:
        return None
    named = {name.split(".", 1)[0] for name in fields if name != "type"}
    for sort in params.get("sorts") or ():
        if not isinstance(sort, dict) or not isinstance(sort.get("field_name"), str):
            return None
        named.add(sort["field_name"].split(".", 1)[0])
    waiting = [params.get("filters")]
    while waiting:
        group = waiting.pop()
        if group is None or group == []:
            continue
        if not isinstance(group, dict) or not isinstance(group.get("conditions"), list):
            return None
        for condition in group["conditions"]:
            if isinstance(condition, dict) and "conditions" in condition:
                waiting.append(condition)
            elif isinstance(condition, dict) and isinstance(condition.get("path"), str):
                named.add(condition["path"].split(".", 1)[0])
            else:
                return None
    return named


def _names(names: Any, what: str) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationError(f"{what} is a list of field names, not {names!r}", "bad_request")
    return names


def _fields(fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``[{"field_name", "value", "multi_entity_update_mode"?}, …]`` as (values, update modes) by field name."""
    if not isinstance(fields, list) or not all(isinstance(f, dict) and isinstance(f.get("field_name"), str) for f in fields):
        raise ValidationError(f"fields is a list of {{'field_name', 'value'}}, not {fields!r}", "bad_request")
    return ({f["field_name"]: f.get("value") for f in fields},
            {f["field_name"]: f["multi_entity_update_mode"] for f in fields if f.get("multi_entity_update_mode")})
