"""ftrack's file routes: ``PUT /component/upload``, ``GET /component/get``, ``GET /component/remove``.

- ``PUT /component/upload?token=…``: the body of an upload URL that ``get_upload_metadata``
  handed out (the token is its only credential). Refused before the body is read when its
  ``Content-Length`` is over what the token or ``--max-upload`` allows (413); streamed to the
  store a chunk at a time, its ``Content-MD5`` (base64) or ``x-content-sha256`` (hex)
  checked (400, nothing kept); answered with the part's ``ETag``.
- ``GET /component/get?id=…``: the file, streamed, with ``Range`` (206). Credentials by
  headers (``ftrack-user`` + ``ftrack-api-key``, or a bearer token), by the query's
  ``username`` + ``apiKey`` (the official client's), or a signed ``token=`` link
  (``generate_signed_url``). A component the user cannot read is not found (404).
- ``GET /component/remove?id=…``: removes the stored file (the user must be able to change
  the component).

Errors are JSON ``{"exception", "content", "error_code"}`` with their status; a storage that
is full or cannot be written is 503. One log line per request says who, what and how it
went — never the query string, which may hold an API key.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import time
from typing import Any, AsyncIterator, Iterator, Mapping

import anyio
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ....exceptions import ValidationError
from ...auth.throttle import Refusal
from ...engine.backend import Backend
from ...files import Files, NoStorage
from ...files.access import disposition
from ...files.signing import TokenRefused
from ...files.store import CHUNK, ChecksumMismatch, KeyRefused, NotStored, StoreUnavailable, TooLarge
from ...files.streaming import coalesced, stream_to_thread
from ...gate import DatabaseGate
from .answers import failure_answer, refused
from .api import _address, _authenticate, _loggable

__all__ = ["FileRoutes"]

log = logging.getLogger(__name__)

#: Transfers one worker runs at once (each holds a thread while it reads or writes the storage).
TRANSFERS = 32
#: The request body uvicorn buffers per connection before it stops reading the socket (its own: 64 KiB).
BODY_BUFFER = 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _error(status: int, exception: str, content: str, code: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"exception": exception, "content": content, "error_code": code}, status_code=status, headers=headers)


class FileRoutes:
    """The file routes over one backend's :class:`~...files.Files`."""

    def __init__(self, backend: Backend, database: DatabaseGate) -> None:
        self.backend, self.database = backend, database
        self.files: Files = backend.files
        self.transfers = anyio.CapacityLimiter(TRANSFERS)
        widen_body_buffer()

    def routes(self) -> list[Route]:
        return [
            Route("/component/upload", self.upload, methods=["PUT"]),
            Route("/component/get", self.get, methods=["GET"]),
            Route("/component/remove", self.remove, methods=["GET"]),
        ]

    async def _answer(self, request: Request, what: str, handler: Any) -> Response:
        """``handler(seen)``'s response or the error's, and one log line (never the query string)."""
        started = time.perf_counter()
        seen: dict[str, Any] = {"user": "-", "component": "-", "outcome": "ok"}
        response: Response | None = None
        try:
            response = await handler(seen)
        except Refusal as refusal:
            response = refused(refusal)
        except Exception as error:  # every failure is a JSON answer
            response = self._failed(request, error)
        finally:
            status = response.status_code if response is not None else "-"
            if response is not None and response.status_code >= 400:
                seen["outcome"] = "refused"
            log.info("files %s user=%s component=%s status=%s %s in %.1f ms", what, seen["user"], seen["component"],
                     status, seen["outcome"], (time.perf_counter() - started) * 1000)  # fmt: skip
        return response

    def _failed(self, request: Request, error: Exception) -> Response:
        if isinstance(error, TokenRefused):
            return _error(403, "PermissionError", str(error), "bad_token")
        if isinstance(error, TooLarge):
            return _error(413, "ValidationError", str(error), "too_large")
        if isinstance(error, ChecksumMismatch):
            return _error(400, "ValidationError", str(error), "checksum_mismatch")
        if isinstance(error, KeyRefused):
            return _error(400, "ValidationError", str(error), "bad_request")
        if isinstance(error, NotStored):
            return _error(404, "ValidationError", str(error), "not_found")
        if isinstance(error, (NoStorage, StoreUnavailable)):
            code = "no_storage" if isinstance(error, NoStorage) else "storage_unavailable"
            return _error(503, "ServerError", str(error), code, {"Retry-After": "30"})
        if isinstance(error, ClientDisconnect):
            return _error(400, "ValidationError", "The body ended early; nothing was kept", "bad_request")
        if isinstance(error, ValidationError):
            status = {"not_found": 404, "unknown_user": 401, "read_only": 403, "permission": 403}.get(error.code, 400)
            return _error(status, getattr(error, "exception", "ValidationError"), error.reason, error.code)
        return failure_answer(request, error)

    async def _user(self, request: Request, seen: dict[str, Any]) -> tuple[str | None, str]:
        """(user id, username) of the credentials: headers, or the query's ``username`` and ``apiKey``."""
        return await self.database(self._identify, _credentials(request), _address(request), seen)

    def _identify(self, headers: Mapping[str, str], address: str, seen: dict[str, Any]) -> tuple[str | None, str]:
        """(user id, username) of ``headers``' credentials (blocking: in a database turn)."""
        user_id, username, _ = _authenticate(self.backend.auth, headers, address)
        seen["user"] = _loggable(username)
        return user_id, username

    # --- PUT /component/upload -----------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        return await self._answer(request, "upload", lambda seen: self._upload(request, seen))

    async def _upload(self, request: Request, seen: dict[str, Any]) -> Response:
        declared = request.headers.get("content-length", "")
        length = int(declared) if declared.isdigit() else None
        ticket = await self.database(self.files.admit, request.query_params.get("token", ""), length)
        seen.update(user=ticket.user_id or "-", component=ticket.component_id)
        md5, sha256 = request.headers.get("content-md5"), request.headers.get("x-content-sha256")
        part = await stream_to_thread(coalesced(request.stream(), CHUNK),
                                      lambda chunks: self.files.write(ticket, chunks, md5, sha256), self.transfers)
        seen["outcome"] = f"{part.size} bytes"
        return JSONResponse({"size": part.size, "md5": part.md5_hex, "sha256": part.sha256_hex},
                            headers={"ETag": f'"{part.e_tag}"'})  # fmt: skip

    # --- GET /component/get --------------------------------------------------------------------

    async def get(self, request: Request) -> Response:
        return await self._answer(request, "get", lambda seen: self._get(request, seen))

    async def _get(self, request: Request, seen: dict[str, Any]) -> Response:
        query = request.query_params
        if "token" in query:
            seen["user"] = "signed-link"
            stored, size = await self.database(self.files.find_signed, query["token"])
        else:
            user_id, username = await self._user(request, seen)
            seen["component"] = _loggable(query.get("id", "-"))
            stored, size = await self.database(self.files.find, username, query.get("id", ""), user_id)
        seen["component"] = stored.id
        return await sent(request, self.files, stored, size, self.transfers, seen)

    # --- GET /component/remove -----------------------------------------------------------------

    async def remove(self, request: Request) -> Response:
        return await self._answer(request, "remove", lambda seen: self._remove(request, seen))

    async def _remove(self, request: Request, seen: dict[str, Any]) -> Response:
        user_id, username = await self._user(request, seen)
        component_id = request.query_params.get("id", "")
        seen["component"] = _loggable(component_id)
        removed = await self.database(self.files.remove, username, component_id, user_id)
        return JSONResponse({"component_id": component_id, "removed": removed})


def widen_body_buffer(limit: int = BODY_BUFFER) -> None:
    """Let uvicorn buffer ``limit`` bytes of a request body before it pauses reading (never less than it does).

    uvicorn stops reading a connection once 64 KiB of body wait for the app, and reads again
    when the app asks: for an upload that is a pause and a resume of the socket every 256 KiB
    read. Receiving 1 GB on loopback took 1.3-1.6 s of the event loop's CPU so, 0.9-1.2 s with
    1 MiB, 0.7-0.8 s with 2 MiB (docs/explanation/performance.rst, "Files"); 1 MiB keeps an
    upload's memory below what it was (the upload route no longer copies into a buffer of its
    own). The limit is a module constant of uvicorn's HTTP protocols (httptools and h11), read
    on each body chunk; a uvicorn without it is left as it is.
    """
    for name in ("uvicorn.protocols.http.httptools_impl", "uvicorn.protocols.http.h11_impl"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = importlib.import_module(name)
            except ImportError:  # httptools not installed, or another uvicorn layout
                continue
        current = getattr(module, "HIGH_WATER_LIMIT", None)
        if isinstance(current, int) and current < limit:
            setattr(module, "HIGH_WATER_LIMIT", limit)  # noqa: B010 - a module's constant, set at run time


def _credentials(request: Request) -> Mapping[str, str]:
    """The request's credentials: its headers, or the query's ``username`` and ``apiKey`` (the official client's)."""
    headers: Mapping[str, str] = request.headers
    query = request.query_params
    if "authorization" not in headers and "ftrack-api-key" not in headers and "apiKey" in query:
        return {"ftrack-user": query.get("username", ""), "ftrack-api-key": query.get("apiKey", "")}
    return headers


async def _in_threads(chunks: Iterator[bytes], limiter: anyio.CapacityLimiter) -> AsyncIterator[bytes]:
    """``chunks`` read in worker threads, one at a time; the file is closed however the answer ends."""
    sentinel = object()
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, chunks, sentinel, limiter=limiter)
            if chunk is sentinel:
                return
            yield chunk  # type: ignore[misc]
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def sent(request: Request, files: Any, stored: Any, size: int, limiter: anyio.CapacityLimiter,
               seen: dict[str, Any], media_type: str = "application/octet-stream") -> Response:  # fmt: skip
    """A stored file as the answer to ``request``: whole, or the ``Range`` it asks for (206), or a redirect to
    the store's presigned URL; for ``/component/get`` and the web page's downloads and movies."""
    presigned = await anyio.to_thread.run_sync(files.download_url, stored, limiter=limiter)
    if presigned is not None:
        return RedirectResponse(presigned, status_code=307)
    headers = {"Accept-Ranges": "bytes", "ETag": f'W/"{stored.id}-{size}"', "Content-Encoding": "identity",
               "Content-Disposition": disposition(stored.filename)}  # fmt: skip
    start, end, status = 0, size, 200
    wanted = request.headers.get("range")
    if wanted:
        matched = _RANGE.fullmatch(wanted.strip())
        if matched and (matched.group(1) or matched.group(2)):
            first, last = matched.groups()
            if first:
                start, end = int(first), min(int(last) + 1, size) if last else size
            else:
                start, end = max(size - int(last), 0), size
            if start >= size or start >= end:
                return _error(416, "ValidationError", f"The file has {size} bytes", "bad_range",
                              {"Content-Range": f"bytes */{size}"})  # fmt: skip
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    chunks = await anyio.to_thread.run_sync(files.open, stored.id, start, end, limiter=limiter)
    seen["outcome"] = f"{end - start} bytes"
    return StreamingResponse(_in_threads(chunks, limiter), status_code=status, headers=headers, media_type=media_type)
