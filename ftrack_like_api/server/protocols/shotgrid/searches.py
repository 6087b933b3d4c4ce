"""Reads that are not a plain find: the event log, scripts (``ApiUser``), ``text_search`` and ``find(…, retired_only=True)``.

A mixin of :class:`.calls.Calls` (which holds the backend, the mapping, the integer ids, the
records and the compiler these use): ``EventLogEntry`` pages come from :mod:`.eventlog`,
text searches are one query of ours per type, retired entities are read from :mod:`.retired`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ....exceptions import ValidationError
from ....query import ast, render
from ...engine.batch import BatchContext
from .apiusers import ApiUsers
from .eventlog import EventLogEntries, finish
from .ids import IntegerIds
from .mapping import Mapping, SgType
from .records import Records, sg_value
from .retired import Retirement
from .writes import among

if TYPE_CHECKING:
    from .filters import FilterCompiler

__all__ = ["Searches"]


class Searches:
    """``_events``, ``text_search`` and ``_retired``, over what :class:`.calls.Calls` holds."""

    backend: Any
    mapping: Mapping
    ids: IntegerIds
    records: Records
    events: EventLogEntries
    retirement: Retirement
    api_users: ApiUsers

    if TYPE_CHECKING:

        def compiler(self, batch: BatchContext) -> FilterCompiler: ...

        def _order(self, sg_type: SgType, sorts: Any) -> tuple[ast.OrderKey, ...]: ...

        def _records(self, batch: BatchContext, sg_type: SgType, query: ast.Query,
                     fields: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]: ...  # fmt: skip

    def _events(self, batch: BatchContext, params: dict[str, Any], fields: list[str], per_page: int, page: int) -> dict[str, Any]:
        """A page of ``EventLogEntry`` rows (:mod:`.eventlog`), by id ascending unless sorted by id descending."""
        sorts = params.get("sorts") or []
        if any(not isinstance(s, dict) or s.get("field_name") != "id" for s in sorts):
            raise ValidationError("EventLogEntry is sorted by id here", "bad_order")
        descending = bool(sorts) and sorts[0].get("direction") == "desc"

        def status_names(keys: set[str]) -> dict[str, str]:
            query = ast.Query("Status", (ast.Path.of("name"),), among(sorted(keys)))
            return {row["id"]: row["name"] for row in self.backend.reader.query(batch.connection, render(query))["data"]}

        def link_names(named: dict[str, SgType]) -> dict[str, Any]:  # a Version's code: one statement per key named by
            found: dict[str, Any] = {}
            for key in sorted({str(t.named_by_metadata.key) for t in named.values() if t.named_by_metadata is not None}):
                among_them = ast.Membership(ast.Path.of("parent_id"), tuple(ast.Literal(k) for k in sorted(named)))
                keyed = ast.Comparison(ast.Path.of("key"), ast.Operator.IS, ast.Literal(key))
                query = ast.Query("Metadata", (ast.Path.of("parent_id"), ast.Path.of("value")), ast.And((keyed, among_them)))
                for row in self.backend.reader.query(batch.connection, render(query))["data"]:
                    found[row["parent_id"]] = row["value"]
            return found

        def resolve(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return finish(self.mapping, rows, lambda wanted: self.ids.numbers(batch.connection, wanted),
                          lambda keys: self.ids.known(batch.connection, keys), status_names, link_names)  # fmt: skip

        entities, more = self.events.page(batch.connection, batch.principal, params.get("filters"), fields, descending,
                                          per_page, page, resolve, lambda wanted: self.ids.uuids(batch.connection, wanted))  # fmt: skip
        return {"entities": entities, "paging_info": {"has_next_page": more, "current_page": page, "entities_per_page": per_page}}

    def _api_users(self, batch: BatchContext, params: dict[str, Any], fields: list[str], per_page: int,
                   page: int) -> dict[str, Any]:  # fmt: skip
        """A page of ``ApiUser`` rows: our named API keys, one SQL statement (:mod:`.apiusers`)."""

        def user_link(uuids: list[str]) -> dict[str, Any]:
            human = self.mapping.type("HumanUser")
            paths = (ast.Path.of("id"), *(ast.Path.of(n) for n in self.records.name_attrs(human)))
            rows = self.backend.reader.query(batch.connection, render(ast.Query(human.ours, paths, among(uuids))))["data"]
            numbers = self.ids.numbers(batch.connection, {row["id"]: human.ours for row in rows})
            return {row["id"]: {"type": "HumanUser", "id": numbers[row["id"]], "name": self.records.link_name(human, row)}
                    for row in rows}  # fmt: skip

        entities, more = self.api_users.page(batch.connection, params.get("filters"), fields, params.get("sorts"),
                                             per_page, page, params.get("return_only") == "retired",
                                             lambda numbers: self.ids.uuids(batch.connection, numbers), user_link)  # fmt: skip
        return {"entities": entities, "paging_info": {"has_next_page": more, "current_page": page, "entities_per_page": per_page}}

    def text_search(self, batch: BatchContext, params: Any) -> dict[str, Any]:
        """``text_search``: entities of the types asked whose name holds the text, each type's filters and the
        projects asked applied — one query of ours per type, ``limit`` matches in all (10 unless asked)."""
        params = _params(params)
        text, types = params.get("text"), params.get("entity_types")
        if not isinstance(text, str) or len(text.strip()) < 3:
            raise ValidationError("text_search needs a text of at least three characters", "bad_request")
        if not isinstance(types, dict) or not types:
            raise ValidationError("text_search takes entity_types: {type: filters}", "bad_request")
        limit = params.get("max_results") or 10
        projects = params.get("project_ids") or []
        compiler = self.compiler(batch)
        matches: list[dict[str, Any]] = []
        for type_name, filters in types.items():
            sg_type = self.mapping.type(type_name)
            conditions: list[Any] = [{"path": sg_type.name_field, "relation": "contains", "values": [text.strip()]}]
            if projects and "project" in sg_type.fields:
                conditions.append({"path": "project", "relation": "in", "values": [{"type": "Project", "id": p} for p in projects]})
            if filters:
                conditions.append(filters)
            where = sg_type.scoped(compiler.compile(sg_type, {"logical_operator": "and", "conditions": conditions}))
            fields = [sg_type.name_field, *(f for f in ("project", "sg_status_list") if f in sg_type.fields)]
            query = ast.Query(sg_type.ours, tuple(ast.Path.of(p) for p in self.records.projections(sg_type, fields)), where,
                              order_by=self._order(sg_type, [{"field_name": sg_type.name_field}]), limit=limit - len(matches))  # fmt: skip
            for record in self._records(batch, sg_type, query, fields)[1]:
                project = record.get("project")
                matches.append({"id": record["id"], "type": sg_type.name, "name": record.get(sg_type.name_field),
                                "project_id": project["id"] if isinstance(project, dict) else None,
                                "status": record.get("sg_status_list"), "image": None, "links": ["", ""]})  # fmt: skip
            if len(matches) >= limit:
                break
        return {"matches": matches, "terms": text.lower().split()}

    def _retired(self, batch: BatchContext, sg_type: SgType, filters: Any, fields: list[str], per_page: int,
                 page: int) -> dict[str, Any]:  # fmt: skip
        """``find(…, retired_only=True)``: the retired entities of a type, with the fields their own row holds."""
        conditions = filters.get("conditions", []) if isinstance(filters, dict) else filters or []
        wanted = None
        for condition in conditions:
            if not isinstance(condition, dict) or condition.get("path") != "id" or condition.get("relation") not in ("is", "in"):
                raise ValidationError("A find of retired entities is filtered by id (is, in) here", "bad_filter")
            wanted = set(condition.get("values") or []) if wanted is None else wanted & set(condition.get("values") or [])
        retired = [(key, row) for key, row in self.retirement.retired(batch.connection, [sg_type.ours]) if sg_type.holds(row)]
        numbers = self.ids.known(batch.connection, [key for key, _ in retired])
        found = [(numbers[key], row) for key, row in retired if key in numbers and (wanted is None or numbers[key] in wanted)]
        more = len(found) > page * per_page
        entities = []
        for number, row in found[(page - 1) * per_page:page * per_page]:
            record: dict[str, Any] = {"type": sg_type.name, "id": number}
            for name in fields:
                field = sg_type.fields.get(name)
                if name in ("id", "type") or field is None:
                    continue
                value = row.get(field.attr) if field.kind == "scalar" else None  # type: ignore[arg-type]
                record[name] = sg_value({"__type__": "datetime", "value": value}, field.data_type) \
                    if field.data_type in ("date", "date_time") and value else value  # fmt: skip
            entities.append(record)
        return {"entities": entities, "paging_info": {"has_next_page": more, "current_page": page, "entities_per_page": per_page}}


def _params(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise ValidationError(f"The call's parameters are an object, not {params!r}", "bad_request")
    return params
