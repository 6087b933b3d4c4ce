"""The pages that show: projects, a project's sheet, an entity, my tasks, one sheet row, the status colours.

Each is one or a few ``query`` operations run as the visitor (:mod:`.reads`): a project,
task or note the visitor may not see is not found, exactly as the API answers.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....schema import Kind
from .guard import NotFound
from .reads import Entities, Reads, Refused, expression
from .rendering import Renderer
from .sheet import COLUMNS, PAGE, FilterError, View, conditions, grouped, refusal_position, task_query, task_row
from .walk import BY_REFERENCE, BadCursor, walk, walk_by

__all__ = ["Pages", "checked_id", "entity_type_name", "notes_on", "project_of", "statuses"]

#: What an id looks like here (a uuid, or a seeded one): anything else is not found before a query is made.
_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
#: A colour the stylesheet may hold.
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{3,8}$")
#: Children and notes an entity's page shows at most.
SHOWN = 200


def checked_id(value: str) -> str:
    if not _ID.match(value):
        raise NotFound()
    return value


async def statuses(reads: Reads, visitor: Any) -> list[dict[str, Any]]:
    rows, _ = await reads.query(visitor, "select name, color, sort from Status order by sort, name")
    return list(rows)


async def project_of(reads: Reads, visitor: Any, project_id: str) -> dict[str, Any]:
    """The project ``project_id`` if the visitor may see it; else :class:`NotFound`."""
    found = await reads.one(visitor, expression("select name, full_name from Project where id is :id",
                                                id=checked_id(project_id)))  # fmt: skip
    if found is None:
        raise NotFound()
    return found


async def notes_on(reads: Reads, visitor: Any, parent_id: str) -> list[dict[str, Any]]:
    """The notes on ``parent_id`` the visitor may read, each with its replies, oldest first."""
    rows, _ = await reads.query(visitor, expression(
        f"select content, date, in_reply_to_id, author.username from Note "
        f"where parent_id is :id order by date limit {SHOWN}", id=parent_id))  # fmt: skip
    notes = [{**note, "author": rows.path(note, "author", "username"), "replies": []} for note in rows]
    threads = {note["id"]: note for note in notes}
    top: list[dict[str, Any]] = []
    for note in notes:
        parent = threads.get(note.get("in_reply_to_id") or "")
        (parent["replies"] if parent is not None else top).append(note)
    return top


class Pages:
    """The reading pages (see the module's text)."""

    def __init__(self, renderer: Renderer, reads: Reads) -> None:
        self.renderer, self.reads = renderer, reads
        self.schema = reads.backend.schema

    async def projects(self, request: Request) -> Response:
        rows, _ = await self.reads.query(request.state.visitor, "select name, full_name, status, start_date, end_date "
                                         "from Project order by name limit 500")  # fmt: skip
        return self.renderer.page(request, "projects.html", {"projects": list(rows)})

    async def sheet(self, request: Request) -> Response:
        visitor = request.state.visitor
        project = await self._project(request)
        view = View.from_query(request.query_params)
        problem: FilterError | None = None
        rows, following = Entities([]), None
        try:
            filtered = conditions(view.filter)
            if view.sort == "path" and filtered is None:  # the tree's order, read a page at a time (see .walk)
                rows, following = await walk(self.reads, visitor, project["id"], COLUMNS, view.descending, PAGE, view.after)
            elif view.sort in BY_REFERENCE and filtered is None:  # each status's (type's) tasks in turn
                rows, following = await walk_by(
                    self.reads, visitor, project["id"], COLUMNS, view.sort, view.descending, PAGE, view.after
                )
            else:
                text = task_query("project_id is :project", view, filtered, project=project["id"])
                rows, following = await self.reads.query(visitor, text, view.after)
        except FilterError as error:
            problem = error
        except BadCursor as error:
            problem = FilterError(str(error), None)
        except Refused as refused:
            if refused.code == "invalid_query":
                problem = FilterError(str(refused).split(" in query ")[0], refusal_position(str(refused), view.filter))
            else:
                raise
        context = {"project": project, "view": view, "items": grouped(rows), "following": following,
                   "problem": problem, "statuses": await statuses(self.reads, visitor), "count": len(rows)}  # fmt: skip
        return self.renderer.page(request, "sheet.html", context, 400 if problem else 200)

    async def row(self, request: Request) -> Response:
        """One task's row of a sheet (what a live page swaps in when the task changed)."""
        visitor = request.state.visitor
        text = task_query("id is :id", View(), None, id=checked_id(request.path_params["id"]))
        rows, _ = await self.reads.query(visitor, text)
        task = next(iter(rows), None)
        if task is None:
            raise NotFound()
        html = self.renderer.fragment("row.html", {"task": task_row(rows, task), "statuses": await statuses(self.reads, visitor),
                                                   "root": request.scope.get("root_path", ""), "visitor": visitor})  # fmt: skip
        return Response(html, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    async def entity(self, request: Request) -> Response:
        visitor = request.state.visitor
        type_name = entity_type_name(self.schema, request.path_params["type"])
        entity_id = checked_id(request.path_params["id"])
        entity_type = self.schema[type_name]
        scalars = [a.name for a in entity_type.scalars if not a.computed and not a.hidden]
        names = [f"{name}.name" for name in ("status", "type", "priority", "parent") if name in entity_type.attributes]
        extra = ["custom_attributes"] if "custom_attributes" in entity_type.attributes else []
        assigned = ["assignments.resource.username"] if "assignments" in entity_type.attributes else []
        text = f"select {', '.join(scalars + names + extra + assigned)} from {type_name} where id is :id"
        rows, _ = await self.reads.query(visitor, expression(text, id=entity_id))
        found = next(iter(rows), None)
        if found is None:
            raise NotFound()
        context: dict[str, Any] = {
            # Ids and classifiers are for scripts: the page shows what they name instead.
            "entity": found, "type_name": found["__entity_type__"],
            "scalars": [name for name in scalars if name == "id" or not name.endswith(("_id", "_type"))],
            "parent": rows.get(found.get("parent")), "status": rows.get(found.get("status")),
            "type": rows.get(found.get("type")),
            "custom": [(c.get("key"), c.get("value")) for c in found.get("custom_attributes") or ()],
            "assignees": sorted(str(rows.path(a, "resource", "username")) for a in found.get("assignments") or ()),
            "statuses": await statuses(self.reads, visitor) if "status_id" in entity_type.attributes else [],
            "children": [], "notes": await notes_on(self.reads, visitor, entity_id), "versions": [],
            "problem": request.query_params.get("problem"),
        }
        if "children" in entity_type.attributes:
            children, _ = await self.reads.query(visitor, expression(
                f"select name, status.name, status.color, object_type.name from TypedContext where parent_id is :id "
                f"order by name limit {SHOWN}", id=entity_id))  # fmt: skip
            context["children"] = [{**child, "status": children.get(child.get("status")),
                                    "kind": children.path(child, "object_type", "name")} for child in children]  # fmt: skip
        if type_name in ("Task", "Shot", "AssetBuild"):
            where = "task_id is :id" if type_name == "Task" else "asset.parent.id is :id"
            versions, _ = await self.reads.query(visitor, expression(
                f"select version, asset.name, thumbnail_id, status.name from AssetVersion where {where} "
                f"order by asset.name, version limit {SHOWN}", id=entity_id))  # fmt: skip
            context["versions"] = [{**v, "asset": versions.path(v, "asset", "name")} for v in versions]
        return self.renderer.page(request, "entity.html", context)

    async def my_tasks(self, request: Request) -> Response:
        visitor = request.state.visitor
        text = expression(
            "select name, status.name, status.color, type.name, start_date, end_date, project.name, parent.name "
            "from Task where assignments any (resource_id is :me) order by end_date, name limit 500", me=visitor.user_id)
        rows, _ = await self.reads.query(visitor, text)
        tasks = [{**task_row(rows, task), "project": rows.path(task, "project", "name"),
                  "project_id": task.get("project_id"), "parent": rows.path(task, "parent", "name")} for task in rows]  # fmt: skip
        return self.renderer.page(request, "my_tasks.html", {"tasks": tasks, "statuses": await statuses(self.reads, visitor)})

    async def colours(self, request: Request) -> Response:
        """The statuses' and types' colours as classes (``status-<id>``): styles the page's CSP allows."""
        lines = []
        for status in await statuses(self.reads, request.state.visitor):
            colour = str(status.get("color") or "")
            if _COLOUR.match(colour) and _ID.match(str(status["id"])):
                lines.append(f".status-{status['id']}{{border-left-color:{colour}}}"
                             f".status-{status['id']} .swatch{{background:{colour}}}")  # fmt: skip
        return Response("\n".join(lines) + "\n", media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"})  # fmt: skip

    async def _project(self, request: Request) -> dict[str, Any]:
        return await project_of(self.reads, request.state.visitor, request.path_params["id"])

def entity_type_name(schema: Any, given: str) -> str:
    """``given`` when the schema has a concrete type of that name; else :class:`NotFound`."""
    if given not in schema.types:
        raise NotFound()
    entity_type = schema[given]
    if entity_type.abstract or "id" not in entity_type.attributes or entity_type.attributes["id"].kind is not Kind.SCALAR:
        raise NotFound()
    return given
