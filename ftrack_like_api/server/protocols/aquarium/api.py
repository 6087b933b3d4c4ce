"""Aquarium's REST routes at ``/v1/`` (and its files at ``/files/<name>``), as its Python client speaks them.

The token travels raw in the ``authorization`` header (``Bearer <token>`` is taken too): a
sign-in token from ``POST /v1/signin`` or a personal token of ours. Every answer is JSON but
``ping``'s ``pong`` and a file's bytes; an error is ``{"error": …}`` with the status the
client maps to its exceptions (400, 401, 403, 404, 405 with an ``allowed`` header, 409,
413, 500). Each request that reads or writes is one operation of the engine
(:mod:`.calls`).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator


import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool
from starlette.routing import Route

from ....exceptions import ValidationError
from ....version import __version__
from ...auth.throttle import Refusal
from ...files.store import NotStored, TooLarge
from ...files.streaming import stream_to_thread
from ...gate import Busy
from ..ftrack.answers import dumps, log_failure
from ..ftrack.body import read_body
from .calls import Calls
from .events import resume_point
from .files import FileRule
from .mapping import load_mapping
from .multipart import boundary_of
from .refused import REFUSED
from .uploads import MAX_UPLOAD, receive

__all__ = ["AquariumApi", "json_answer"]

log = logging.getLogger(__name__)

#: How long an idle event stream waits before saying it is alive (s: the client's stop() waits for a line), and how long
#: it tells clients to wait before reconnecting (s).
HEARTBEAT, RETRY = 2.0, 3.0
#: The most events one read of the log takes.
READ = 500
#: The largest JSON body read.
MAX_BODY = 64 * 1024 * 1024
_PLACE = re.compile(r"^Operation \d+ \([^)]*\): ")
_STATUS = {"not_found": 404, "conflict": 409, "duplicate_key": 409, "permission": 403, "too_large": 413}
_EXCEPTION_STATUS = {"PermissionError": 403, "InvalidCredentialsError": 401, "ServerError": 500}

Handler = Callable[[Request, "Caller | None"], Awaitable[Response]]


class Caller:
    """Who calls: their user id, username and token."""

    def __init__(self, user_id: str, username: str, token: str) -> None:
        self.user_id, self.username, self.token = user_id, username, token


def json_answer(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(value), status_code=status, media_type="application/json", headers=headers)


def error(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_answer({"error": message}, status, headers)


class AquariumApi:
    """Aquarium's routes over one backend, under ``prefix`` (``/v1``)."""

    def __init__(self, backend: Any, database: Any, prefix: str = "/v1", calls: Calls | None = None) -> None:
        self.backend, self.database, self.prefix = backend, database, prefix
        self.calls = calls or Calls(backend, load_mapping())
        self.file_rule = FileRule(backend)
        r = self._routes = {}  # type: dict[str, dict[str, tuple[Handler, bool]]]
        r["/signin"] = {"POST": (self.signin, False)}
        r["/signout"] = {"POST": (self.signout, True)}
        r["/ping"] = {"GET": (self.ping, False)}
        r["/status"] = {"GET": (self.status, False)}
        r["/forgot"] = {"POST": (self.forgot, False)}
        r["/users/me"] = {"GET": (self.me, True)}
        r["/users"] = {"GET": (self.op("users"), True), "POST": (self.op("create_user", body=True, write=True), True)}
        r["/items"] = {"POST": (self.op("create", body=True, write=True), True)}
        item = {"GET": (self.op("get"), True), "PUT": (self.op("update", body=True, write=True, replace=True), True),
                "PATCH": (self.op("update", body=True, write=True), True), "DELETE": (self.op("delete", write=True), True)}  # fmt: skip
        r["/items/{key}"] = r["/items/{key}/"] = item
        r["/items/{key}/append"] = {"POST": (self.op("append", body=True, write=True), True)}
        r["/items/{key}/traverse"] = {"POST": (self.op("traverse", body=True), True)}
        r["/items/{key}/trash"] = {"DELETE": (self.op("trash", write=True), True)}
        r["/trashed_items/{key}/restore"] = {"POST": (self.op("restore", write=True), True)}
        r["/trashed_items/{key}/traverse"] = {"POST": (self.op("traverse_trashed", body=True), True)}
        r["/items/{key}/upload"] = {"POST": (self.upload, True)}
        r["/items/{key}/download"] = {"GET": (self.download, True)}
        r["/items/{key}/history"] = {"GET": (self.op("history"), True)}
        r["/items/{key}/copy"] = {"POST": (self.op("copy", body=True, write=True), True)}
        r["/items/{key}/move"] = {"PUT": (self.op("move", body=True, write=True), True)}
        r["/upload"] = {"POST": (self.upload, True)}
        r["/query"] = {"POST": (self.op("query", body=True), True)}
        r["/usergroups/{key}"] = {"GET": (self.op("members_of"), True), "POST": (self.op("join", body=True, write=True), True),
                                  "DELETE": (self.op("leave", body=True, write=True), True)}  # fmt: skip
        # The client asks for "/events/stream" joined to "v1/": "/v1//events/stream".
        r["/events/stream"] = r["//events/stream"] = {"GET": (self.stream, True)}
        r["/edges"] = {"POST": (self.op("connect", body=True, write=True), True)}
        edge = {"GET": (self.op("get_edge"), True),
                "PUT": (self.op("change_edge", body=True, write=True, replace=True), True),
                "PATCH": (self.op("change_edge", body=True, write=True), True),
                "DELETE": (self.op("disconnect", write=True), True)}  # fmt: skip
        r["/edges/{key}"] = r["/edges/{key}/"] = edge

    def routes(self) -> list[Route]:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        found = [Route(self.prefix + path, self._endpoint(table), methods=methods) for path, table in self._routes.items()]
        found += [Route(self.prefix + path, self._refusal(why), methods=methods) for path, why in REFUSED.items()]
        found.append(Route(self.prefix + "/{rest:path}", self._unknown, methods=methods))
        if self.prefix == "/v1":  # files are read from the root, whichever mount wrote them
            found.append(Route("/files/{name}", self._guarded(self.file, True), methods=["GET"]))
        return found

    # --- the frame of every route -------------------------------------------------------------

    def _endpoint(self, table: dict[str, tuple[Handler, bool]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            chosen = table.get(request.method)
            if chosen is None:
                return error(f"Method {request.method} is not allowed here", 405, {"allowed": ", ".join(table)})
            return await self._guarded(*chosen)(request)

        return endpoint

    def _guarded(self, handler: Handler, authenticated: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                caller = await self._caller(request) if authenticated else None
                return await handler(request, caller)
            except Refusal as refusal:
                headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
                return error(refusal.reason, refusal.status, headers)
            except ValidationError as invalid:
                return error(invalid.reason, _STATUS.get(invalid.code, 400))
            except Busy as busy:
                return error(f"The server is busy ({busy}); try again shortly", 503, {"Retry-After": "1"})
            except Exception as failure:  # never a traceback, never a plain-text 500
                error_id = log_failure(failure, f"{request.method} {request.url.path} failed")
                return error(f"The server failed to answer (error id {error_id} in its log)", 500)

        return endpoint

    def _refusal(self, why: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            route = f"{request.method} {request.url.path}"
            return error(f"{route} is not served by this server: {why}", 501)

        return endpoint

    async def _unknown(self, request: Request) -> Response:
        return error(f"No route {request.method} {request.url.path}", 404)

    async def _caller(self, request: Request) -> Caller:
        token = request.headers.get("authorization", "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token:
            raise Refusal("Sign in first: no token in the authorization header")
        user_id, username = await self.database(self.backend.auth.verify_token, token)
        return Caller(user_id, username, token)

    async def _body(self, request: Request) -> dict[str, Any]:
        body = await read_body(request, MAX_BODY)
        if body is None:
            raise ValidationError(f"The body is over {MAX_BODY} bytes", "too_large")
        if not body.strip():
            return {}
        try:
            found = json.loads(body)
        except ValueError:
            raise ValidationError("The body is not JSON", "bad_request") from None
        if not isinstance(found, dict):
            raise ValidationError("The body is a JSON object", "bad_request")
        return found

    async def execute(self, caller: Caller, call: str, params: dict[str, Any], write: bool = False) -> Any:
        """``call`` as one operation of the engine, as ``caller``; its result, or ValidationError/Refusal."""
        operation = {"action": "aquarium_write" if write else "aquarium_read", "call": call, "params": params}
        result = await self.database(self.backend.execute, [operation], caller.username, None, caller.user_id,
                                     {"aquarium": {"call": call}})  # fmt: skip
        if isinstance(result, dict):
            message = _PLACE.sub("", str(result.get("content", "")))
            status = _EXCEPTION_STATUS.get(str(result.get("exception")))
            if status == 403:
                raise ValidationError(message, "permission")
            if status == 500:
                raise RuntimeError(message)
            raise ValidationError(message, str(result.get("error_code") or "bad_request"))
        return result[0]

    def op(self, call: str, body: bool = False, write: bool = False, replace: bool = False) -> Handler:
        """A route that is one call: its parameters from the path, the body and the query string."""

        async def handler(request: Request, caller: Caller | None) -> Response:
            assert caller is not None
            params: dict[str, Any] = {**request.query_params, **request.path_params}
            if body:
                sent = await self._body(request)
                if call in ("update", "change_edge"):
                    params.update(data=sent.get("data"), deep=sent.get("deepMerge", True), replace=replace)
                elif call == "connect":
                    params.update(type=sent.get("type"), data=sent.get("data"), **{"from": sent.get("fromKey"), "to": sent.get("toKey")})
                else:
                    params.update(sent)
            return json_answer(await self.execute(caller, call, params, write))

        return handler

    # --- routes of their own ------------------------------------------------------------------

    async def signin(self, request: Request, caller: Caller | None) -> Response:
        sent = await self._body(request)
        email, password = sent.get("email"), sent.get("password")
        if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
            return error("Sign in with {email, password}", 400)
        address = request.client.host if request.client else ""
        username = await self.database(self._username, email)
        token, _ = await self.database(self.backend.auth.sign_in, username or email, password, address)
        user_id, username = await self.database(self.backend.auth.verify_token, token)
        me = await self.execute(Caller(user_id, username, token), "me", {})
        return json_answer({"status": "ok", "token": token, "user": me})

    def _username(self, email: str) -> str | None:
        """The username of the user whose email (or username) ``email`` is."""
        users = self.backend.storage.tables["resource"]
        with self.backend.engine.connect() as connection:
            found = connection.execute(sa.select(users.c.username).where(users.c.resource_type == "user", sa.or_(
                users.c.username == email, users.c.email == email)).order_by(users.c.username != email).limit(1)).scalar()  # fmt: skip
        return str(found) if found is not None else None

    async def signout(self, request: Request, caller: Caller | None) -> Response:
        assert caller is not None
        await self.database(self.backend.auth.sign_out, caller.token)
        return json_answer({"status": "ok"})

    async def ping(self, request: Request, caller: Caller | None) -> Response:
        return Response("pong", media_type="text/plain")

    async def status(self, request: Request, caller: Caller | None) -> Response:
        return json_answer({"status": "ok", "server": "ftrack_like_api", "version": __version__})

    async def forgot(self, request: Request, caller: Caller | None) -> Response:
        await self._body(request)
        return json_answer({"status": "ok", "sent": False, "reason": "this server sends no mail: an administrator sets passwords"})

    async def me(self, request: Request, caller: Caller | None) -> Response:
        assert caller is not None
        user = await self.execute(caller, "me", {})
        return json_answer({"user": user, "usergroups": [], "organisations": await self.organisations(caller)})

    async def organisations(self, caller: Caller) -> list[Any]:
        """The organisations ``users/me`` lists: none on Aquarium's mount (its client cannot read them there)."""
        return []

    async def upload(self, request: Request, caller: Caller | None) -> Response:
        """A file on an item (or none): streamed to the store as it arrives (:func:`.uploads.receive`), then recorded."""
        assert caller is not None
        limit = min(MAX_UPLOAD, self.backend.files.max_upload or MAX_UPLOAD)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return error(f"The upload is over {limit} bytes", 413)
        store = self.backend.files.store
        written: list[str] = []
        # A Media item that is a component of ours takes the file itself (refused here if the caller may not change it).
        media = None
        if request.path_params.get("key") is not None:
            media = await self.execute(caller, "upload_target", {"key": request.path_params["key"]})

        def write(key: str, chunks: Iterator[bytes]) -> int:
            if key != media:  # a failed upload leaves the Media's earlier file as it was (written whole, then renamed)
                written.append(key)
            try:
                return int(store.write_file(key, chunks, limit).size)
            except TooLarge:
                raise ValidationError(f"The upload is over {limit} bytes", "too_large") from None

        content_type = request.headers.get("content-type", "")
        boundary_of(content_type)  # refused before a byte is read
        try:
            upload = await stream_to_thread(request.stream(), lambda chunks: receive(content_type, chunks, write, media))
            params = {"upload": upload, "key": request.path_params.get("key"), "base_url": str(request.base_url)}
            return json_answer(await self.execute(caller, "upload", params, write=True))
        except BaseException:
            for key in written:  # nothing records the file: it is not kept
                await self.database(store.remove, key)
            raise

    async def download(self, request: Request, caller: Caller | None) -> Response:
        """``download_file``: the file of a Media item (its component's), or the last one uploaded on the item."""
        assert caller is not None
        found = await self.execute(caller, "download_target", {"key": request.path_params["key"]})
        return await self._send(caller, found["component"], found["filename"])

    async def file(self, request: Request, caller: Caller | None) -> Response:
        assert caller is not None
        name = request.path_params["name"]
        return await self._send(caller, name.split(".", 1)[0], name)

    async def _send(self, caller: Caller, key: str, name: str) -> Response:
        """The bytes of component ``key``'s file, as ``name``, if the caller may read it."""
        if not await self.database(self.file_rule.readable, caller.username, caller.user_id, key):
            return error(f"No file {name}", 404)
        try:
            chunks = await self.database(self.backend.files.store.open, key)  # raises at once when there is no file
        except NotStored:
            return error(f"No file {name} (its bytes are not in the store)", 404)
        return StreamingResponse(iterate_in_threadpool(chunks), media_type="application/octet-stream",
                                 headers={"content-disposition": 'attachment; filename="%s"' % name.replace('"', "")})  # fmt: skip

    async def stream(self, request: Request, caller: Caller | None) -> Response:
        """Aquarium's events as server-sent events (:mod:`.events`), from ``last-event-id`` or from now on."""
        assert caller is not None
        resume = resume_point(request.headers.get("last-event-id"))
        principal = await self.database(self._principal, caller)
        after = resume[0] - 1 if resume else await self.database(self.backend.events.last)
        events, broker = self.calls.events, self.backend.broker
        draining = getattr(request.app.state, "draining", None)

        async def lines() -> AsyncIterator[bytes]:
            # The log is read only when the broker knows of a newer event (its notification: LISTEN/NOTIFY on
            # PostgreSQL, the commit's own in this process); an idle stream waits, reading nothing, and says it is alive.
            nonlocal after, resume
            yield f"retry: {int(RETRY * 1000)}\n\n".encode()
            latest = after
            while not (draining is not None and draining.started) and not await request.is_disconnected():
                if latest <= after:
                    latest = await broker.wait(after, HEARTBEAT)
                    if latest <= after:
                        yield b": heartbeat\n\n"
                        continue
                read = await self.database(self.backend.events.read, after, READ, principal)
                text, last = events.stream_text(read, resume)
                resume = None
                # Every event up to ``latest`` could be read: fewer than asked means none the caller may see is left.
                after = last if len(read) == READ else max(after, latest, last)
                if text:
                    yield text.encode()

        return StreamingResponse(lines(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    def _principal(self, caller: Caller) -> Any:
        with self.backend.engine.connect() as connection:
            return self.backend.permissions.principal(connection, caller.username, caller.user_id)
