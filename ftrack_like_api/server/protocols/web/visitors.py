"""Who is looking at a page: the session cookie, signing in and out, and the CSRF token of every change.

Signing in (a user name with a password, or with a personal token) makes a sign-in token,
the same kind ``POST /signin`` gives a script: throttling, expiry and "log out everywhere"
are the API's own. The cookie holds that token and nothing else: ``HttpOnly`` (no script
reads it), ``SameSite=Lax`` (another site's form does not carry it), ``Secure`` when the
page came over HTTPS, scoped to the server's root path. A personal token is checked
once and never kept in the cookie.

Every request that changes something carries a CSRF token: a hash of the sign-in token
under a label of its own, so it needs no storage, differs per sign-in, and tells nothing
of the token itself. It travels in a hidden form field or the ``X-CSRF-Token`` header; a
change without it, or with a wrong one, or from another origin, changes nothing (403).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...auth.throttle import Refusal
from ...auth.tokens import is_personal_token
from ...engine.backend import Backend
from ...gate import DatabaseGate

__all__ = ["COOKIE", "Visitor", "Visitors"]

#: The session cookie's name.
COOKIE = "ftrack_like_session"
#: The form field and header that carry the CSRF token.
CSRF_FIELD, CSRF_HEADER = "csrf", "x-csrf-token"


@dataclasses.dataclass(frozen=True)
class Visitor:
    """A signed-in person: their id and name, the sign-in token their cookie holds, its CSRF token."""

    user_id: str
    username: str
    token: str = dataclasses.field(repr=False)

    @functools.cached_property
    def csrf(self) -> str:
        return csrf_token(self.token)


def csrf_token(token: str) -> str:
    """The CSRF token of a sign-in token (a labelled hash: it cannot be turned back into the token)."""
    return hashlib.sha256(b"ftrack-like web csrf\0" + token.encode()).hexdigest()


class Visitors:
    """Signing in and out through one backend's accounts, and knowing a request's visitor."""

    def __init__(self, backend: Backend, database: DatabaseGate) -> None:
        self.backend, self.database = backend, database

    async def visitor(self, request: Request) -> Visitor | None:
        """The request's signed-in visitor, or None (no cookie, or one whose token ended)."""
        token = request.cookies.get(COOKIE)
        if not token or len(token) > 200:
            return None
        try:
            user_id, username = await self.database(self.backend.auth.verify_token, token)  # type: ignore[union-attr]
        except Refusal:
            return None
        return Visitor(user_id, username, token)

    async def sign_in(self, username: str, password: str, personal_token: str, address: str) -> Visitor:
        """A visitor signed in with ``password`` or ``personal_token``; Refusal (throttled as the API is) otherwise."""
        auth: Any = self.backend.auth
        if personal_token:
            if not is_personal_token(personal_token):
                raise Refusal("That is not a personal token: it starts with flpat_ (ftrack-like token create)", status=400)
            user_id, _ = await self.database(auth.check_named_key, username, personal_token, address)
            token, _ = await self.database(auth.issue_token, user_id)
        else:
            token, _ = await self.database(auth.sign_in, username, password, address)
            user_id, username = await self.database(auth.verify_token, token)
        return Visitor(user_id, username, token)

    async def sign_out(self, visitor: Visitor) -> None:
        await self.database(self.backend.auth.sign_out, visitor.token)  # type: ignore[union-attr]


def remember(response: Response, request: Request, visitor: Visitor) -> None:
    """Set the session cookie on ``response``."""
    response.set_cookie(COOKIE, visitor.token, httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path=_cookie_path(request))  # fmt: skip


def forget(response: Response, request: Request) -> None:
    """Clear the session cookie on ``response``."""
    response.delete_cookie(COOKIE, path=_cookie_path(request), httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")  # fmt: skip


def same_origin(request: Request) -> bool:
    """Whether a change comes from this server's own pages (by ``Origin``, else ``Referer``; neither: yes)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own or origin.startswith(own + "/")


def csrf_matches(visitor: Visitor, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), visitor.csrf)


def _cookie_path(request: Request) -> str:
    return request.scope.get("root_path", "") or "/"
