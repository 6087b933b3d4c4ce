"""What every page's handler is wrapped in: the visitor, the CSRF check of a change, and errors as pages.

- :meth:`Guard.open` — for everyone (the sign-in page); :meth:`Guard.page` — for a signed-in
  visitor, others are sent to sign in; :meth:`Guard.change` — a POST from a signed-in
  visitor carrying its CSRF token from this server's own page, else 403 and nothing changes.
- A handler raises :class:`NotFound` for what does not exist or is not the visitor's to
  see (404 page); a busy database is a 503 page with ``Retry-After``; anything else
  unexpected a 500 page with an error id — never a traceback.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...gate import Busy
from .rendering import Renderer
from .visitors import CSRF_FIELD, CSRF_HEADER, Visitors, csrf_matches, same_origin

__all__ = ["Guard", "NotFound", "read_form"]

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
#: The largest form a change sends (a note's text is the largest part).
MAX_FORM = 256 * 1024


class NotFound(Exception):
    """What the page shows does not exist, or is not the visitor's to see: both are 404, alike."""


class Guard:
    """Wraps handlers (see the module's text)."""

    def __init__(self, renderer: Renderer, visitors: Visitors) -> None:
        self.renderer, self.visitors = renderer, visitors

    def open(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            return await self._answer(request, handler, signed_in=False, changes=False)

        return endpoint

    def page(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            return await self._answer(request, handler, signed_in=True, changes=False)

        return endpoint

    def change(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            return await self._answer(request, handler, signed_in=True, changes=True)

        return endpoint

    async def _answer(self, request: Request, handler: Handler, signed_in: bool, changes: bool) -> Response:
        try:
            visitor = request.state.visitor = await self.visitors.visitor(request)
            if signed_in and visitor is None:
                root = request.scope.get("root_path", "")
                path = request.url.path[len(root):] if root and request.url.path.startswith(root) else request.url.path
                if changes or path in ("/web/live", "/web/colours.css") or path.startswith("/web/rows/"):
                    # What a page's script or stylesheet asks for: a sign-in page would be no answer to it.
                    return self.renderer.error(request, 401, "Signed out", "Sign in again to go on.")
                wanted = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{root}/web/signin?next={quote(wanted)}", status_code=303)
            if changes:
                refusal = await self._forged(request)
                if refusal is not None:
                    return refusal
            return await handler(request)
        except NotFound:
            return self.renderer.error(request, 404, "Not found", "There is nothing here, or it is not yours to see.")
        except Busy:
            response = self.renderer.error(request, 503, "Busy", "The server is busy: try again in a moment.")
            response.headers["Retry-After"] = "2"
            return response
        except Exception as failure:  # never a traceback
            return self.renderer.failure(request, failure)

    async def _forged(self, request: Request) -> Response | None:
        """The refusal of a change that does not come, with its token, from this server's own page; None if it does."""
        form = request.state.form = await read_form(request)
        if form is None:
            return self.renderer.error(request, 413, "Too large", f"A change is at most {MAX_FORM // 1024} KB.")
        given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
        if not same_origin(request) or not csrf_matches(request.state.visitor, given):  # type: ignore[arg-type]
            log.info("web change refused: no valid CSRF token (user=%s)", request.state.visitor.username)
            return self.renderer.error(request, 403, "Refused",
                                       "This change did not come from this site's own page, so nothing was changed. "
                                       "Reload the page and try again.")  # fmt: skip
        return None


async def read_form(request: Request) -> dict[str, str] | None:
    """A form's fields (``application/x-www-form-urlencoded``, as the pages and their script send); None when too large.

    Each field once (the first); a body that is not such a form is an empty one.
    """
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    form: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(key, value)
    return form
