"""A signed-in person's own routes: ``POST /signout``, their personal access tokens, and ``POST /admin``.

- ``POST /signout`` ends the bearer token the request carries (200 even when it had
  ended already: the client forgets it either way).
- ``GET /tokens``, ``POST /tokens`` (``{"name": …, "expires_in": seconds}``) and
  ``DELETE /tokens/{name}``: the person's personal tokens. Only a person signed in with
  their password reaches them: an API key or a personal token cannot make more tokens.
- ``POST /admin`` (``{"command": …, "arguments": […]}``): the administrators' commands on
  users, roles and keys (``auth/commands.py``), for administrators only, however signed in.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...auth.commands import run as run_command
from ...auth.throttle import Refusal
from ...auth.tokens import is_personal_token
from ...engine.backend import Backend
from ...gate import DatabaseGate
from ....exceptions import ValidationError
from .answers import failure_answer, refused
from .body import SIGNIN_BODY, read_body

__all__ = ["Accounts"]

log = logging.getLogger(__name__)

#: The largest body of an administrators' command (a user name, a password, a key's name).
ADMIN_BODY = 16 * 1024

#: The longest expiry a personal token may be made with (ten years; none at all is allowed).
MAX_EXPIRY = datetime.timedelta(days=3650)


class Accounts:
    """``/signout`` and ``/tokens`` over one backend."""

    def __init__(self, backend: Backend, database: DatabaseGate) -> None:
        self.backend, self.database = backend, database

    def routes(self) -> list[Route]:
        return [
            Route("/signout", self.signout, methods=["POST"]),
            Route("/tokens", self.tokens, methods=["GET", "POST"]),
            Route("/tokens/{name}", self.revoke, methods=["DELETE"]),
            Route("/admin", self.admin, methods=["POST"]),
        ]

    async def signout(self, request: Request) -> Response:
        token = _bearer(request)
        if token is None or is_personal_token(token):
            return _invalid("Sign out with the sign-in token itself (Authorization: Bearer …)", 400)
        try:
            ended = await self.database(self.backend.auth.sign_out, token)  # type: ignore[union-attr]
        except Exception as failure:
            return failure_answer(request, failure)
        log.info("signout ended=%d", ended)
        return JSONResponse({"signed_out": bool(ended)})

    async def tokens(self, request: Request) -> Response:
        try:
            user_id, username = await self._person(request)
            if request.method == "GET":
                found = await self.database(self.backend.auth.list_personal_tokens, user_id)  # type: ignore[union-attr]
                return JSONResponse({"tokens": [_shown(row) for row in found]})
            name, expires_in = _creation(await read_body(request, SIGNIN_BODY))
            secret, expires = await self.database(
                self.backend.auth.create_personal_token, user_id, name, expires_in  # type: ignore[union-attr]
            )
        except Refusal as refusal:
            return refused(refusal)
        except ValidationError as error:
            return _invalid(str(error), 409 if error.code == "duplicate" else 400, error.code)
        except Exception as failure:
            return failure_answer(request, failure)
        log.info("token created user=%s name=%s", username, name)
        return JSONResponse({"name": name, "token": secret, "expires_at": expires and expires.isoformat()})

    async def revoke(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            user_id, username = await self._person(request)
            count = await self.database(self.backend.auth.revoke_personal_token, user_id, name)  # type: ignore[union-attr]
        except Refusal as refusal:
            return refused(refusal)
        except Exception as failure:
            return failure_answer(request, failure)
        if not count:
            return _invalid(f"You have no live personal token named {name!r}", 404, "not_found")
        log.info("token revoked user=%s name=%s", username, name)
        return JSONResponse({"revoked": name})

    async def admin(self, request: Request) -> Response:
        """``POST /admin`` ``{"command": …, "arguments": […]}``: an administrators' command (auth/commands.py)."""
        from .api import _address, _authenticate  # (api.py mounts these routes)

        try:
            user_id, username, _ = await self.database(_authenticate, self.backend.auth, request.headers, _address(request))
            if not await self.database(self._is_admin, user_id, username):
                return _invalid("Only administrators run `ftrack-like user` and `key` commands", 403, "permission")
            given = json.loads(await read_body(request, ADMIN_BODY) or b"")
            command, arguments = str(given["command"]), given.get("arguments", [])
            answer = await self.database(run_command, self.backend.auth, command, arguments)
        except Refusal as refusal:
            return refused(refusal)
        except (ValueError, KeyError, TypeError):
            return _invalid('Send {"command": …, "arguments": […]}', 400)
        except ValidationError as error:
            return _invalid(str(error), 404 if error.code == "not_found" else 400, error.code)
        except Exception as failure:
            return failure_answer(request, failure)
        log.info("admin user=%s command=%s", username, command)
        return JSONResponse({"result": answer})

    def _is_admin(self, user_id: str, username: str) -> bool:
        with self.backend.engine.connect() as connection:
            return bool(self.backend.permissions.principal(connection, username, user_id).admin)

    async def _person(self, request: Request) -> tuple[str, str]:
        """(user id, username) of a person signed in with a password; Refusal for anything else."""
        token = _bearer(request)
        if token is None or is_personal_token(token):
            raise Refusal("Personal tokens are managed signed in with a password: `ftrack-like login SERVER` first",
                          status=403, code="sign_in_needed")  # fmt: skip
        return await self.database(self.backend.auth.verify_token, token)  # type: ignore[union-attr,no-any-return]


def _bearer(request: Request) -> str | None:
    given = request.headers.get("authorization", "")
    return given[7:].strip() if given.lower().startswith("bearer ") else None


def _creation(body: bytes | None) -> tuple[str, datetime.timedelta | None]:
    """The name and expiry of a token to make, from ``{"name": …, "expires_in": seconds or null}``."""
    try:
        given = json.loads(body or b"")
        name, seconds = str(given["name"]), given.get("expires_in")
        expires_in = None if seconds is None else datetime.timedelta(seconds=float(seconds))
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        raise ValidationError('Send {"name": …, "expires_in": seconds or null}', "bad_request") from None
    if expires_in is not None and expires_in > MAX_EXPIRY:
        raise ValidationError(f"A personal token expires within {MAX_EXPIRY.days} days, or never", "bad_request")
    return name, expires_in


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime.datetime) else value for key, value in row.items()}


def _invalid(content: str, status: int, code: str = "bad_request") -> Response:
    return JSONResponse({"exception": "ValidationError", "content": content, "error_code": code}, status_code=status)
