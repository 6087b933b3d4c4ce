"""A project as a production spreadsheet: sequences → shots / asset builds → tasks, a page at a time.

The view is the URL's: ``filter`` (our query language's conditions on Task), ``sort``
(one of :data:`SORTS`), ``order`` (``desc``) and ``after`` (the engine's cursor to the
next page). A page is one query — ``limit`` :data:`PAGE` rows after the cursor — so page
one thousand costs what page one does (keyset paging, :mod:`...engine.paging`). The
default order without a filter is read by walking the project's tree instead
(:mod:`.walk`), which no single sorted query can serve from an index.

The filter is parsed on its own and joined to the project's condition as a tree, never
pasted into query text: ``x) or (y`` cannot widen the view. What is wrong with a filter
is told with its place in the filter as typed.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

from ....exceptions import QueryError
from ....query import ast, parse, render
from .reads import Entities, expression

__all__ = ["FilterError", "PAGE", "SORTS", "View", "conditions", "grouped", "refusal_position", "task_query", "task_row"]

#: Rows a page shows.
PAGE = 100
#: The longest filter accepted.
MAX_FILTER = 2000
#: What a sheet may be sorted by: the name in the URL, and the keys.
SORTS = {
    "path": "parent.parent.name, parent.name, name",
    "name": "name",
    "status": "status.name",
    "type": "type.name",
    "start": "start_date",
    "due": "end_date",
    "bid": "bid",
}
#: The columns of a task row.
COLUMNS = ("name, status.name, status.color, type.name, assignments.resource.username, start_date, end_date, bid, "
           "thumbnail_id, parent.name, parent.object_type.name, parent.parent.name, parent.parent.object_type.name")  # fmt: skip

_PREFIX = "Task where "


class FilterError(Exception):
    """A filter that is not one: what is wrong, and where (0-based, in the filter as typed; None: nowhere in particular)."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.message, self.position = message, position


@dataclasses.dataclass(frozen=True)
class View:
    """What a sheet shows: the URL's query string, checked."""

    filter: str = ""
    sort: str = "path"
    descending: bool = False
    after: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> View:
        sort = query.get("sort", "path")
        return cls(
            filter=query.get("filter", "").strip(),
            sort=sort if sort in SORTS else "path",
            descending=query.get("order") == "desc",
            after=query.get("after") or None,
        )

    def link(self, **changes: Any) -> dict[str, Any]:
        """The query string of this view with ``changes`` (for links: another sort, the next page)."""
        values = {"filter": self.filter, "sort": None if self.sort == "path" else self.sort,
                  "order": "desc" if self.descending else None, "after": None}  # fmt: skip
        values.update(changes)
        return values


def conditions(text: str) -> ast.Expression | None:
    """The filter's conditions as a tree; :class:`FilterError` saying what and where when it is not a filter."""
    if not text:
        return None
    if len(text) > MAX_FILTER:
        raise FilterError(f"A filter is at most {MAX_FILTER} characters", MAX_FILTER)
    try:
        query = parse(_PREFIX + text)
    except QueryError as error:
        position = None if error.position is None else max(0, error.position - len(_PREFIX))
        raise FilterError(error.reason, position) from None
    if query.order_by or query.group_by or query.limit is not None or query.offset is not None:
        raise FilterError("A filter holds conditions only: sort with the column headings", None)
    if any(isinstance(node, ast.Parameter) for node in ast.walk(query)):
        raise FilterError("A filter holds values, not :parameters", text.find(":"))
    return query.where


def task_query(where: str, view: View, filtered: ast.Expression | None, **values: Any) -> str:
    """The query text of a sheet's page: tasks ``where`` (bound with ``values``), and the view's filter and sort."""
    keys = SORTS[view.sort]
    if view.descending:
        keys = ", ".join(f"{key} desc" for key in keys.split(", "))
    base = parse(expression(f"select {COLUMNS} from Task where {where} order by {keys} limit {PAGE}", **values))
    if filtered is not None:
        base = dataclasses.replace(base, where=ast.And((base.where, filtered)))  # type: ignore[arg-type]
    return render(base)


def refusal_position(message: str, text: str) -> int | None:
    """Where in the filter ``text`` the engine's ``message`` points (the unknown name it names), if anywhere."""
    named = re.search(r"attribute '([^']+)'|type '([^']+)'", message)
    if named:
        found = text.find(named.group(1) or named.group(2))
        return found if found >= 0 else None
    return None


def task_row(rows: Entities, task: Mapping[str, Any]) -> dict[str, Any]:
    """What a sheet shows of one task."""
    assignees = sorted(str(rows.path(a, "resource", "username")) for a in task.get("assignments") or ())
    return {
        "id": task["id"],
        "name": task.get("name"),
        "status": rows.get(task.get("status")),
        "type": rows.path(task, "type", "name"),
        "assignees": assignees,
        "start": task.get("start_date"),
        "due": task.get("end_date"),
        "bid": task.get("bid"),
        "thumbnail_id": task.get("thumbnail_id"),
    }


def grouped(rows: Entities) -> list[tuple[str, dict[str, Any]]]:
    """The page's rows under their sequence and shot headings: ("sequence" | "shot" | "task", what it shows)."""
    shown: list[tuple[str, dict[str, Any]]] = []
    group: tuple[Any, Any] = (object(), object())
    for task in rows:
        parent = rows.get(task.get("parent")) or {}
        grand = rows.get(parent.get("parent")) or {}
        if (grand.get("id"), parent.get("id")) != group:
            if grand.get("id") != group[0] and grand.get("__entity_type__") not in (None, "Project"):
                shown.append(("sequence", _heading(rows, grand)))
            shown.append(("shot", _heading(rows, parent)))
            group = (grand.get("id"), parent.get("id"))
        shown.append(("task", task_row(rows, task)))
    return shown


def _heading(rows: Entities, entity: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": entity.get("id"), "type": entity.get("__entity_type__"), "name": entity.get("name"),
            "kind": rows.path(entity, "object_type", "name") or entity.get("__entity_type__")}  # fmt: skip
