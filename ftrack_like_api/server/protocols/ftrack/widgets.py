"""ftrack's widgets: ``get_widget_url`` and the small pages it links to (``GET /widget/<name>?token=…``).

ftrack's client asks ``session.get_widget_url(name, entity=None, theme=None)`` for a link a
DCC application shows in a browser panel, already signed in: ``info`` (one entity's
attributes), ``tasks`` and ``tasks_browser`` (the signed-in user's tasks). The action
answers ``{"widget_url": …}``: this server's ``/widget/<name>`` with a token signed for
the asking user, good for six minutes as ftrack's are. The page reads what it shows
through the engine as that user, so permissions are the API's own; it is plain HTML with
its CSS inline and no script (``Content-Security-Policy: default-src 'none'``), every
value escaped. A token that is not one, is for another widget or has expired is a JSON 403.

The browsable web page for people (issue 21) is another thing; these are what ftrack's
API names.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ....exceptions import ValidationError
from ....query import bind, parse, render
from ...files.signing import TokenRefused
from .files import _error

if TYPE_CHECKING:
    from ...engine.backend import Backend
    from ...engine.batch import BatchContext

__all__ = ["LIFETIME", "WIDGETS", "WidgetRoutes", "register"]

#: The widgets ftrack's client names.
WIDGETS = ("info", "tasks", "tasks_browser")
#: Seconds a widget's link works (ftrack's: six minutes).
LIFETIME = 360
#: Tasks a tasks widget lists at most.
MOST_TASKS = 500


def register(backend: Backend) -> None:
    """Carry out ``get_widget_url`` on ``backend``."""
    backend.register_action("get_widget_url", lambda batch, operation: widget_url(backend, batch, operation))


def widget_url(backend: Backend, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
    """``{"widget_url": "/widget/<name>?token=…"}`` for the batch's user (the HTTP layer makes it absolute)."""
    name = operation.get("name")
    if name not in WIDGETS:
        raise ValidationError(f"'name' is one of {', '.join(WIDGETS)}, not {name!r}", "bad_request")
    theme = operation.get("theme") if operation.get("theme") in ("light", "dark") else "dark"
    claims: dict[str, Any] = {"w": name, "t": theme, "u": batch.principal.username}
    if operation.get("entity_type") is not None or name == "info":
        entity_type, key = operation.get("entity_type"), operation.get("entity_key")
        if not isinstance(entity_type, str) or entity_type not in backend.schema:
            raise ValidationError(f"The {name} widget needs an entity: 'entity_type' names no type ({entity_type!r})",
                                  "bad_request")  # fmt: skip
        if not isinstance(key, list) or len(key) != 1 or not isinstance(key[0], str):
            raise ValidationError("'entity_key' is the entity's key: a list of one id", "bad_request")
        claims["e"] = [entity_type, key[0]]
    token = backend.files.signer.sign("widget", claims, LIFETIME)
    return {"widget_url": f"/widget/{name}?token={quote(token)}"}


class WidgetRoutes:
    """``GET /widget/<name>``: the page a signed widget link shows."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def routes(self) -> list[Route]:
        return [Route("/widget/{name}", self.page, methods=["GET"])]

    async def page(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            claims = self.backend.files.signer.verify(request.query_params.get("token"), "widget")
        except TokenRefused as refused:
            return _refused(str(refused))
        if claims.get("w") != name:
            return _refused("The token is for another widget")
        try:
            body = await anyio.to_thread.run_sync(self._render, claims)
        except LookupError as missing:
            return _refused(str(missing), 404, "not_found")
        headers = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}  # fmt: skip
        return HTMLResponse(body, headers=headers)

    def _render(self, claims: Mapping[str, Any]) -> str:
        username, theme = str(claims["u"]), str(claims.get("t") or "dark")
        if claims.get("w") == "info":
            entity_type, key = claims["e"]
            title, content = self._info(username, entity_type, key)
        else:
            title, content = self._tasks(username)
        return _PAGE.format(theme=theme, title=html.escape(title), content=content)

    def _query(self, username: str, expression: str, **values: Any) -> list[dict[str, Any]]:
        text = render(bind(parse(expression), values))  # values bound, never formatted into the text
        answer = self.backend.execute([{"action": "query", "expression": text}], username)
        if isinstance(answer, dict):  # an error object: the user may not read it, or it is not there
            raise LookupError(str(answer.get("content") or "Not found"))
        return list(answer[0]["data"])

    def _info(self, username: str, entity_type: str, key: str) -> tuple[str, str]:
        rows = self._query(username, f"{entity_type} where id is :id", id=key)
        if not rows:
            raise LookupError(f"No {entity_type} with that id that you may read")
        row = rows[0]
        shown = [(name, _text(value)) for name, value in sorted(row.items())
                 if not name.startswith("__") and _text(value) is not None]  # fmt: skip
        title = str(row.get("name") or row.get("full_name") or row.get("username") or entity_type)
        items = "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd>" for name, value in shown)  # type: ignore[arg-type]
        return f"{entity_type}: {title}", f"<dl>{items}</dl>"

    def _tasks(self, username: str) -> tuple[str, str]:
        users = self._query(username, "select id from User where username is :u", u=username)
        if not users:
            raise LookupError("The widget's user is gone")
        tasks = self._query(username, "select name, status.name, parent.name, project.full_name, end_date from Task "
                            "where assignments any (resource_id is :me) order by end_date limit "
                            f"{MOST_TASKS}", me=users[0]["id"])  # fmt: skip
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_text(value) or '')}</td>" for value in (
                (task.get("project") or {}).get("full_name"), (task.get("parent") or {}).get("name"), task.get("name"),
                (task.get("status") or {}).get("name"), task.get("end_date"))) + "</tr>"
            for task in tasks
        )  # fmt: skip
        table = ("<table><tr><th>Project</th><th>In</th><th>Task</th><th>Status</th><th>Due</th></tr>"
                 f"{rows}</table>" if tasks else "<p>No task is assigned to you.</p>")  # fmt: skip
        return f"Tasks of {username}", table


def _text(value: Any) -> str | None:
    """A value as the page shows it (None: not shown — a reference, a collection)."""
    if value is None:
        return None
    if isinstance(value, dict):
        if "__type__" in value and "value" in value:  # a datetime on the wire
            return str(value["value"])
        return None
    if isinstance(value, (list, tuple)):
        return None
    return str(value)


def _refused(reason: str, status: int = 403, code: str = "widget_refused") -> Response:
    return _error(status, "PermissionError" if status == 403 else "NotFoundError", reason, code)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1em; }}
body.dark {{ background: #1e1f22; color: #dcdde0; }} body.light {{ background: #fff; color: #202124; }}
h1 {{ font-size: 1.2em; }} dt {{ font-weight: 600; }} dd {{ margin: 0 0 .4em 1em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2em .6em; text-align: left; border-bottom: 1px solid #8884; }}
</style></head>
<body class="{theme}"><h1>{title}</h1>
{content}
</body></html>
"""
