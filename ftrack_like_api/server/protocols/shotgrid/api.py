"""``POST /api3/json``: ShotGrid's JSON-RPC, as ``shotgun_api3`` speaks it.

A request is ``{"method_name": "read", "params": [auth, call]}``; the answer is
``{"results": …}``, or ``{"exception": true, "message": …, "error_code": …}`` with HTTP 200
(the client reads errors from the body; 102 is its ``AuthenticationFault``). ``info`` needs
no credentials.

Who calls, by the credentials ShotGrid scripts carry, through :mod:`...auth` (never a copy of it):

- ``script_name`` + ``script_key``: one of our named API keys (the script is the key's
  name; its changes are the key owner's, and their events say ``apiKey: {name}``)
- ``user_login`` + ``user_password``: a person's password; the sign-in token it gives is kept
  by this worker under the password's hash, so scrypt runs once, not on every request
- ``session_token``: a sign-in token (``get_session_token`` hands one out; to a script, one of its
  key's owner, whom the script acts as)
- ``sudo_as_login``: an administrator acting as another user

A wrong credential, whatever was wrong, answers the same words.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ....exceptions import ValidationError
from ....version import __version__
from ...auth.credentials import TOKEN_LIFETIME
from ...auth.tables import hashed, utcnow
from ...engine.storage import one_statement, writing
from ...engine.computed import BASE_URL, LINK_TOKEN
from ...files.thumbnails import link_signer
from ...auth.throttle import Refusal
from ...gate import Busy
from ..ftrack.answers import dumps, log_failure
from ..ftrack.body import read_body
from .calls import PAGE, READS, WRITES, Calls
from .mapping import load_mapping
from .schema import entity_schema
from .uploads import FileRoutes

__all__ = ["SERVER_VERSION", "ShotgridApi"]

log = logging.getLogger(__name__)

#: The ShotGrid server version ``info`` reports: the client turns on what that version has
#: (paging without counts from 7.4, image urls, per-project schemas).
SERVER_VERSION = [8, 0, 0]
#: The largest request body read (a batch of creates).
MAX_BODY = 64 * 1024 * 1024
#: ShotGrid's error code for a refused credential (the client's AuthenticationFault).
AUTHENTICATION = 102
REFUSED = "Authentication failed: the credentials were not accepted"
_PLACE = re.compile(r"^Operation \d+ \([^)]*\): ")


class ShotgridApi:
    """The ShotGrid endpoint over one backend."""

    def __init__(self, backend: Any, database: Any) -> None:
        self.backend, self.database = backend, database
        self.mapping = load_mapping()
        self.calls = Calls(backend, self.mapping)
        #: Fields whose values are signed links (thumbnails, files): a body naming one gets links signed.
        self._linked = {f'"{f.name}"'.encode() for t in self.mapping.types.values() for f in t.fields.values()
                        if f.kind in ("thumbnail", "file")}  # fmt: skip
        self._signed_in: dict[tuple[str, str], str] = {}  # (login, password hash) -> sign-in token
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [Route("/api3/json", self.json, methods=["POST"]), *FileRoutes(self).routes()]

    async def json(self, request: Request) -> Response:
        try:
            return await self._answer(request)
        except Busy as busy:
            return JSONResponse(_fault(f"The server is busy ({busy}); try again shortly", "busy"), status_code=503,
                                headers={"Retry-After": "1"})  # fmt: skip
        except Exception as failure:  # never a traceback, never a plain-text 500
            error_id = log_failure(failure, "POST /api3/json failed")
            return _json(_fault(f"The server failed to answer (error id {error_id} in its log)", "internal"))

    async def _answer(self, request: Request) -> Response:
        body = await read_body(request, MAX_BODY)
        if body is None:
            return _json(_fault(f"The body is over {MAX_BODY} bytes", "too_large"))
        try:
            payload = json.loads(body)
        except ValueError:
            return _json(_fault("The body is not JSON", "bad_request"))
        if not isinstance(payload, dict) or not isinstance(payload.get("method_name"), str):
            return _json(_fault("A call is {'method_name', 'params'}", "bad_request"))
        method, params = payload["method_name"], payload.get("params") or []
        if method == "info":
            return _json({"results": self.info()})
        if not isinstance(params, list) or not params or not isinstance(params[0], dict):
            return _json(_fault(REFUSED, AUTHENTICATION))
        address = request.client.host if request.client else ""
        try:
            user_id, username, source, token = await self.database(self._authenticate, params[0], address)
        except Refusal:
            return _json(_fault(REFUSED, AUTHENTICATION))
        except ValidationError as error:
            return _json(_fault(error.reason, error.code))
        call = params[1] if len(params) > 1 else None
        log.info("api3 user=%s method=%s", username, method)
        if method == "get_session_token":
            if token is None:  # a script's: a sign-in token of the key's owner, whom the script acts as
                token = await self.database(self._token_for, user_id)
            return _json({"results": {"session_id": token}})
        if method == "schema_entity_read":
            return _json({"results": entity_schema(self.mapping)})
        if method not in READS and method not in WRITES:
            return _json(_fault(f"The method {method!r} is not served by this server (see docs/howto/shotgrid.rst)",
                                "not_served"))  # fmt: skip
        operation = {"action": "shotgrid_write" if method in WRITES else "shotgrid_read", "method": method, "params": call}
        BASE_URL.set(str(request.base_url))  # image links are to this server, signed (ftrack's thumbnail links)
        if any(name in body for name in self._linked):
            LINK_TOKEN.set(await self.database(link_signer, self.backend.files.signer))
        result = await self.database(self.backend.execute, [operation], username, None, user_id, source)
        if isinstance(result, dict):
            return _json(_fault(self.message(result), result.get("error_code")))
        return _json({"results": result[0]})

    #: What every refused credential is told.
    refused = REFUSED

    @staticmethod
    def message(answer: dict[str, Any]) -> str:
        """An engine error object's words, without the place in the batch (a ShotGrid call is one operation)."""
        return _PLACE.sub("", str(answer.get("content", "")))

    def info(self) -> dict[str, Any]:
        """What ``info`` answers: a version the client accepts, and ours."""
        return {"version": SERVER_VERSION, "api_max_entities_per_page": PAGE, "s3_uploads_enabled": False,
                "s3_enabled_upload_types": {}, "ftrack_like_api_version": __version__}  # fmt: skip

    @staticmethod
    def _local(function: Any, *args: Any) -> Response:
        try:
            return _json({"results": function(*args)})
        except ValidationError as error:
            return _json(_fault(error.reason, error.code))

    # --- who calls ------------------------------------------------------------------------------

    def _authenticate(self, auth: dict[str, Any], address: str) -> tuple[str, str, dict[str, Any], str | None]:
        """(user id, username, the events' source, a sign-in token if any); Refusal when not accepted."""
        keys = self.backend.auth
        token = None
        if auth.get("user_login") and auth.get("user_password"):
            login, password = str(auth["user_login"]), str(auth["user_password"])
            user_id, username, token = self._password(login, password, address)
            source: dict[str, Any] = {"signedIn": True}
        elif auth.get("script_name") and auth.get("script_key"):
            name, secret = str(auth["script_name"]), str(auth["script_key"])
            owner = self._key_owner(name, secret)
            if owner is None:
                keys.check_throttle(name, address)
                keys.failed(name, address)
                raise Refusal(REFUSED)
            user_id, key_name = keys.check_named_key(owner, secret, address)
            if key_name != name:
                raise Refusal(REFUSED)
            username, source = owner, {"apiKey": {"name": key_name}}
        elif auth.get("session_token"):
            token = str(auth["session_token"])
            user_id, username = keys.verify_token(token)
            source = {"signedIn": True}
        else:
            raise Refusal(REFUSED)
        sudo = auth.get("sudo_as_login")
        if sudo:
            if keys.role(user_id) != "admin":
                raise ValidationError(f"The user does not have permission to 'sudo': sudo_as_login is for "
                                      f"administrators; {username} is not one", "permission")  # fmt: skip
            with self.backend.engine.connect() as connection:
                found = keys.user_id(connection, str(sudo))
            if found is None:
                raise ValidationError(f"sudo_as_login: no user {sudo!r}", "not_found")
            source = {**source, "sudo": {"by": username}}
            user_id, username = found, str(sudo)
        return user_id, username, source, token

    def _token_for(self, user_id: str) -> str:
        """A new sign-in token of ``user_id`` (a script asking for a session token: its key's owner's)."""
        auth = self.backend.auth
        token = secrets.token_urlsafe(32)
        with writing(self.backend.engine) as connection:
            connection.execute(auth.tokens.insert().values(token_hash=hashed(token), user_id=user_id,
                                                           expires_at=utcnow() + TOKEN_LIFETIME))  # fmt: skip
        return token

    def _key_owner(self, name: str, secret: str) -> str | None:
        """The username whose live key is ``secret`` and is called ``name`` (the key itself is checked by auth)."""
        keys = self.backend.auth
        with one_statement(self.backend.engine) as connection:
            return connection.execute(
                keys.keys.select().with_only_columns(keys.users.c.username)
                .join(keys.users, keys.users.c.id == keys.keys.c.user_id)
                .where(keys.keys.c.secret_hash == hashed(secret), keys.keys.c.name == name)
            ).scalar()  # fmt: skip

    def _password(self, login: str, password: str, address: str) -> tuple[str, str, str]:
        """(user id, username, token) for a login and password: a token this worker holds, or a new sign-in."""
        remembered = (login, hashlib.sha256(password.encode()).hexdigest())
        with self._lock:
            token = self._signed_in.get(remembered)
        if token is not None:
            try:
                user_id, username = self.backend.auth.verify_token(token)
                return user_id, username, token
            except Refusal:  # expired, or ended by a new password: sign in again
                pass
        token, _ = self.backend.auth.sign_in(login, password, address)
        with self._lock:
            if len(self._signed_in) > 10_000:
                self._signed_in.clear()
            self._signed_in[remembered] = token
        user_id, username = self.backend.auth.verify_token(token)
        return user_id, username, token


def _fault(message: str, code: Any) -> dict[str, Any]:
    return {"exception": True, "message": message, "error_code": code}


def _json(answer: Any) -> Response:
    return Response(dumps(answer), media_type="application/json")
