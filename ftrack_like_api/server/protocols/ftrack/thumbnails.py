"""ftrack's thumbnail route: ``GET /component/thumbnail?id=…&size=…``.

The component's image scaled to fit ``size`` x ``size`` pixels (default 300, at most 4096), a
PNG's as a PNG and any other as a JPEG (``files/thumbnails.py``), made once per size and cached in the file store. The same
credentials as ``/component/get`` — headers, the query's ``username`` + ``apiKey`` (the
official client's ``get_thumbnail_url``; never logged), or a signed ``token=`` link — and the
same rule: a component the user cannot read is not found (404).

Answered with ``Cache-Control`` (:data:`~...files.thumbnails.CACHE_CONTROL`) and an ``ETag``;
a request whose ``If-None-Match`` names it is answered 304 with no body. A size that is not
one is 400, a file that is not an image this server reads 415, no file 404 — all JSON.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...files.access import Stored
from ...files.thumbnails import CACHE_CONTROL, BadSize, NotAnImage, Thumbnail, cached, parse_size, thumbnail
from .api import _address
from .files import FileRoutes, _credentials, _error

__all__ = ["ThumbnailRoutes"]


class ThumbnailRoutes(FileRoutes):
    """``GET /component/thumbnail`` over one backend's files (credentials, permissions and errors as the file routes')."""

    def routes(self) -> list[Route]:
        return [Route("/component/thumbnail", self.thumbnail, methods=["GET"])]

    def _failed(self, request: Request, error: Exception) -> Response:
        if isinstance(error, BadSize):
            return _error(400, "ValidationError", str(error), "bad_size")
        if isinstance(error, NotAnImage):
            return _error(415, "ValidationError", str(error), "not_an_image")
        return super()._failed(request, error)

    async def thumbnail(self, request: Request) -> Response:
        return await self._answer(request, "thumbnail", lambda seen: self._thumbnail(request, seen))

    async def _thumbnail(self, request: Request, seen: dict[str, Any]) -> Response:
        query = request.query_params
        if "token" in query:
            seen["user"] = "signed-link"
        credentials, address = _credentials(request), _address(request)

        def find() -> tuple[Stored, int, Thumbnail | None]:
            """The component and its cached thumbnail, in one database turn (one thread hop for a cached one)."""
            if "token" in query:
                stored, _ = self.files.find_signed(query["token"])
            else:
                user_id, username = self._identify(credentials, address, seen)
                stored, _ = self.files.find(username, query.get("id", ""), user_id)
            seen["component"] = stored.id
            size = parse_size(query.get("size"))
            return stored, size, cached(self.files.store, stored.id, size)

        stored, size, made = await self.database(find)
        if made is None:
            made = await anyio.to_thread.run_sync(thumbnail, self.files.store, stored.id, size, limiter=self.transfers)
        headers = {"ETag": made.etag, "Cache-Control": CACHE_CONTROL}
        if _matches(request.headers.get("if-none-match", ""), made.etag):
            seen["outcome"] = "not modified"
            return Response(status_code=304, headers=headers)
        seen["outcome"] = f"{size} px, {len(made.data)} bytes"
        return Response(made.data, media_type=made.content_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weakly, as HTTP compares for GET), or is ``*``."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
