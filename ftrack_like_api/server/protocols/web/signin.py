"""Signing in and out in the browser, and the front door (``/``).

The sign-in form takes a user name with a password or with a personal token. A refusal
says the same whatever was wrong (it tells nobody who exists) and is throttled as the
API's sign-in is; the password and the token are never written to the log or the page.
After signing in the visitor goes where they were going (``next``, a path on this server
only), else to the projects.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...auth.credentials import MAX_USERNAME_LENGTH
from ...auth.throttle import Refusal
from .guard import read_form
from .rendering import Renderer
from .visitors import Visitors, forget, remember, same_origin

__all__ = ["SignIn"]

log = logging.getLogger(__name__)


class SignIn:
    """``/``, ``/web/signin`` and ``/web/signout``."""

    def __init__(self, renderer: Renderer, visitors: Visitors) -> None:
        self.renderer, self.visitors = renderer, visitors

    async def home(self, request: Request) -> Response:
        root = request.scope.get("root_path", "")
        if request.state.visitor is not None:
            return RedirectResponse(f"{root}/web/projects", status_code=303)
        return self._form(request, "", None)

    async def form(self, request: Request) -> Response:
        return self._form(request, "", None)

    async def submit(self, request: Request) -> Response:
        form = await read_form(request) or {}
        username = str(form.get("username") or "").strip()[: MAX_USERNAME_LENGTH + 1]
        password, token = str(form.get("password") or ""), str(form.get("token") or "").strip()
        if not same_origin(request):
            return self._form(request, username, "Sign in from this site's own page.", 403)
        if not username or not (password or token):
            return self._form(request, username, "Give your user name, and your password or a personal token.", 400)
        try:
            visitor = await self.visitors.sign_in(username, password, token, request.client.host if request.client else "")
        except Refusal as refusal:
            log.info("web signin user=%s refused", username if len(username) <= MAX_USERNAME_LENGTH else "-")
            headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
            return self._form(request, username, refusal.reason, 429 if refusal.status == 429 else 401, headers)
        log.info("web signin user=%s ok%s", visitor.username, " (personal token)" if token else "")
        response = RedirectResponse(_next(request, str(form.get("next") or "")), status_code=303)
        remember(response, request, visitor)
        return response

    async def sign_out(self, request: Request) -> Response:
        await self.visitors.sign_out(request.state.visitor)
        log.info("web signout user=%s", request.state.visitor.username)
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/web/signin", status_code=303)
        forget(response, request)
        return response

    def _form(self, request: Request, username: str, problem: str | None, status: int = 200,
              headers: dict[str, str] | None = None) -> Response:  # fmt: skip
        wanted = request.query_params.get("next", "")
        return self.renderer.page(request, "signin.html", {"username": username, "problem": problem, "next": wanted},
                                  status, headers)  # fmt: skip


def _next(request: Request, wanted: str) -> str:
    """Where to go after signing in: ``wanted`` when it is a path of this site's pages, else the projects."""
    root = request.scope.get("root_path", "")
    if wanted.startswith("/web/") and not wanted.startswith("//") and "\\" not in wanted:
        return root + wanted
    return f"{root}/web/projects"
