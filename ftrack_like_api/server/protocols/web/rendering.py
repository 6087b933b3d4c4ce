"""Pages as HTML: the Jinja2 templates, the headers every page carries, the static files and the error pages.

Templates are autoescaped, so a name holding markup is shown as text. Every answer
carries a Content-Security-Policy that allows only this server's own script and style
files (no inline script, no inline style, no framing), ``nosniff`` and no referrer.
The static files (``static/``) are served under a path holding a hash of their
contents, so they are cached for a year and a new release is fetched at once.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import uuid
from typing import Any, Mapping
from urllib.parse import urlencode

import jinja2
import markupsafe
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Renderer", "SECURITY_HEADERS", "Static", "StatusOptions"]

log = logging.getLogger(__name__)

#: What the browser may load and run: this server's own files, nothing inline.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")  # fmt: skip
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make a form's Origin "null"
    "X-Frame-Options": "DENY",
}
#: The static files and their types.
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class Static:
    """The package's ``static/`` files, each under ``static/<hash>/<name>`` (cached for a year)."""

    def __init__(self) -> None:
        folder = importlib.resources.files(__package__).joinpath("static")
        self.files: dict[str, bytes] = {entry.name: entry.read_bytes() for entry in folder.iterdir()
                                        if entry.name.endswith(tuple(_TYPES))}  # fmt: skip
        self.version = hashlib.sha256(b"".join(self.files[name] for name in sorted(self.files))).hexdigest()[:12]

    def response(self, version: str, name: str) -> Response:
        body = self.files.get(name)
        if body is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        cache = "public, max-age=31536000, immutable" if version == self.version else "no-cache"
        return Response(body, media_type=_TYPES[name[name.rindex("."):]], headers={"Cache-Control": cache, **SECURITY_HEADERS})


class Renderer:
    """Renders the package's templates into answers with :data:`SECURITY_HEADERS`."""

    def __init__(self, static: Static) -> None:
        self.static = static
        self.environment = jinja2.Environment(
            loader=jinja2.PackageLoader(__package__, "templates"),
            autoescape=True,  # every template is HTML: a value is text unless marked otherwise
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # package files: no stat of each template at each include (a sheet has 100)
        )
        self.environment.filters.update(when=when, day=day)

    def page(self, request: Request, template: str, context: Mapping[str, Any], status: int = 200,
             headers: Mapping[str, str] | None = None) -> Response:  # fmt: skip
        """``template`` rendered with ``context``, and what every page knows: where it is, the signed-in visitor."""
        root = request.scope.get("root_path", "")
        values = {
            "root": root,
            "static": f"{root}/web/static/{self.static.version}",
            "visitor": getattr(request.state, "visitor", None),
            "link": _link,
            **_with_options(context),
        }
        body = self.environment.get_template(template).render(values)
        return Response(body, status_code=status, media_type="text/html; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-store", **(headers or {})})  # fmt: skip

    def fragment(self, template: str, context: Mapping[str, Any]) -> str:
        """A piece of a page (one row of a sheet), as text."""
        return self.environment.get_template(template).render(_with_options(context))

    def error(self, request: Request, status: int, title: str, message: str) -> Response:
        """The error page: what went wrong, in words, with its status."""
        return self.page(request, "error.html", {"title": title, "message": message}, status)

    def failure(self, request: Request, failure: BaseException) -> Response:
        """The page for something unexpected: an error id naming the log line that holds the details."""
        error_id = uuid.uuid4().hex
        log.error("web page %s failed (error id %s)", request.url.path, error_id, exc_info=failure)
        return self.error(request, 500, "Something went wrong",
                          f"The server could not show this page. Tell an administrator the error id {error_id}.")


class StatusOptions:
    """A Status list's ``<option>`` elements, escaped once per page: a sheet's 100 rows each show all of them.

    Called with the id of a row's status, they come with that one selected.
    """

    def __init__(self, statuses: list[Mapping[str, Any]]) -> None:
        self.options = [(str(s["id"]), f'<option value="{markupsafe.escape(s["id"])}">{markupsafe.escape(s.get("name"))}</option>')
                        for s in statuses]  # fmt: skip
        self.plain = markupsafe.Markup("".join(option for _, option in self.options))

    def __call__(self, current: Any) -> markupsafe.Markup:
        chosen = str(current["id"]) if isinstance(current, Mapping) and "id" in current else None
        if chosen is None:
            return self.plain
        return markupsafe.Markup("".join(option.replace("<option ", "<option selected ", 1) if key == chosen else option
                                         for key, option in self.options))  # fmt: skip


def _with_options(context: Mapping[str, Any]) -> Mapping[str, Any]:
    if "statuses" in context and "status_options" not in context:
        return {**context, "status_options": StatusOptions(context["statuses"])}
    return context


def when(value: Any) -> str:
    """A datetime as the wire carries it (``{"__type__": "datetime", "value": …}``) shown to a person: day and minute."""
    text = value.get("value") if isinstance(value, Mapping) else value
    if not text:
        return ""
    text = str(text).replace("T", " ")
    return text[:10] if text[10:19] in ("", " 00:00:00") else text[:16]


def day(value: Any) -> str:
    """A datetime's day, ``YYYY-MM-DD``, for a date field ("" for none)."""
    text = value.get("value") if isinstance(value, Mapping) else value
    return str(text)[:10] if text else ""


def _link(path: str, **query: Any) -> str:
    """``path`` with ``query``'s non-empty values as its query string."""
    given = {key: value for key, value in query.items() if value not in (None, "")}
    return f"{path}?{urlencode(given)}" if given else path
