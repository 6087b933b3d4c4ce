"""Changes in place: an entity's Status, name, dates and assignees, and notes — each one batch, one commit.

A form posts ``field`` and ``value`` (assignees: the user names, comma-separated). The
change is an ``update`` operation (assignees: the Appointments to delete and create, in
the same batch) carried out by the engine as the visitor, so its permissions, integrity
and events hold. The answer for a page without script is a redirect back (with the
engine's words when it refused); for the page's script (``Accept: application/json``) it
is JSON: ``{"ok": true}`` or ``{"ok": false, "message": …}``.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from .guard import NotFound
from .pages import checked_id, entity_type_name
from .reads import Reads, Refused, expression
from .rendering import Renderer

__all__ = ["Edits"]

log = logging.getLogger(__name__)

#: The fields a page changes, and the attribute each is.
FIELDS = {"status": "status_id", "name": "name", "start_date": "start_date", "end_date": "end_date"}
#: The longest note, and the most assignees in one change.
MAX_NOTE, MAX_ASSIGNEES = 100_000, 100


class Edits:
    """``POST /web/entities/{type}/{id}`` and ``…/notes``."""

    def __init__(self, renderer: Renderer, reads: Reads) -> None:
        self.renderer, self.reads = renderer, reads
        self.schema = reads.backend.schema

    async def change(self, request: Request) -> Response:
        type_name = entity_type_name(self.schema, request.path_params["type"])
        entity_id = checked_id(request.path_params["id"])
        form = request.state.form
        field, value = str(form.get("field") or ""), str(form.get("value") or "").strip()
        attributes = self.schema[type_name].attributes
        try:
            if field == "assignees" and "assignments" in attributes:
                operations = await self._assignments(request, type_name, entity_id, value)
            elif field in FIELDS and FIELDS[field] in attributes:
                operations = [{"action": "update", "entity_type": type_name, "entity_key": [entity_id],
                               "entity_data": {FIELDS[field]: _value(field, value)}}]  # fmt: skip
            else:
                return self._answer(request, type_name, entity_id, f"{type_name} has no field {field!r} to change here")
            await self.reads.run(request.state.visitor, operations)
        except (Refused, ValueError) as refused:
            if isinstance(refused, Refused) and refused.code == "not_found":
                raise NotFound() from None
            return self._answer(request, type_name, entity_id, str(refused))
        log.info("web change user=%s %s %s.%s", request.state.visitor.username, type_name, entity_id, field)
        return self._answer(request, type_name, entity_id, None)

    async def note(self, request: Request) -> Response:
        """A note on the entity, or a reply to one of its notes (``in_reply_to``)."""
        type_name = entity_type_name(self.schema, request.path_params["type"])
        entity_id = checked_id(request.path_params["id"])
        form = request.state.form
        content = str(form.get("content") or "").strip()
        if not content:
            return self._answer(request, type_name, entity_id, "A note needs some text")
        if len(content) > MAX_NOTE:
            return self._answer(request, type_name, entity_id, f"A note is at most {MAX_NOTE:,} characters")
        data: dict[str, Any] = {"id": str(uuid.uuid4()), "content": content, "parent_id": entity_id,
                                "parent_type": type_name, "user_id": request.state.visitor.user_id}  # fmt: skip
        replying = str(form.get("in_reply_to") or "")
        if replying:
            data["in_reply_to_id"] = checked_id(replying)
        try:
            if await self.reads.one(request.state.visitor, expression(f"select id from {type_name} where id is :id",
                                                                      id=entity_id)) is None:  # fmt: skip
                raise NotFound()
            await self.reads.run(request.state.visitor, [{"action": "create", "entity_type": "Note",
                                                          "entity_key": [data["id"]], "entity_data": data}])  # fmt: skip
        except Refused as refused:
            return self._answer(request, type_name, entity_id, str(refused))
        log.info("web note user=%s on %s %s", request.state.visitor.username, type_name, entity_id)
        return self._answer(request, type_name, entity_id, None)

    async def _assignments(self, request: Request, type_name: str, entity_id: str, value: str) -> list[dict[str, Any]]:
        """The operations that make ``value``'s user names the assignees of ``entity_id``: who goes, who comes."""
        wanted = {name.strip() for name in value.split(",") if name.strip()}
        if len(wanted) > MAX_ASSIGNEES:
            raise ValueError(f"At most {MAX_ASSIGNEES} assignees at once")
        visitor = request.state.visitor
        current, _ = await self.reads.query(visitor, expression(
            'select resource.username from Appointment where context_id is :id and type is "assignment"', id=entity_id))
        have = {str(current.path(a, "resource", "username")): a["id"] for a in current}
        users: dict[str, str] = {}
        if wanted - set(have):
            found, _ = await self.reads.query(visitor, expression(
                "select username from User where username in :names", names=sorted(wanted - set(have))))  # fmt: skip
            users = {str(user["username"]): str(user["id"]) for user in found}
            unknown = sorted(wanted - set(have) - set(users))
            if unknown:
                raise ValueError(f"No user called {', '.join(unknown)}")
        operations: list[dict[str, Any]] = [
            {"action": "delete", "entity_type": "Appointment", "entity_key": [key]}
            for name, key in sorted(have.items()) if name not in wanted
        ]  # fmt: skip
        for name in sorted(wanted - set(have)):
            key = str(uuid.uuid4())
            operations.append({"action": "create", "entity_type": "Appointment", "entity_key": [key],
                               "entity_data": {"id": key, "type": "assignment", "context_id": entity_id,
                                               "resource_id": users[name]}})  # fmt: skip
        if not operations:
            raise ValueError("Those are the assignees already")
        return operations

    def _answer(self, request: Request, type_name: str, entity_id: str, problem: str | None) -> Response:
        if "application/json" in request.headers.get("accept", ""):
            answer = {"ok": True} if problem is None else {"ok": False, "message": problem}
            return JSONResponse(answer, status_code=200 if problem is None else 400)
        back = f"{request.scope.get('root_path', '')}/web/entities/{type_name}/{entity_id}"
        return RedirectResponse(back + (f"?{urlencode({'problem': problem})}" if problem else ""), status_code=303)


def _value(field: str, value: str) -> Any:
    """A form's text as the attribute's value: a date becomes the day's start in UTC; an empty date, None."""
    if field in ("start_date", "end_date"):
        if not value:
            return None
        try:
            day = datetime.date.fromisoformat(value[:10])
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).isoformat()
    if field == "name" and not value:
        raise ValueError("A name cannot be empty")
    return value
