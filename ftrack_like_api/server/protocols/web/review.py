"""Review: a project's versions as a grid of thumbnails, a version's page, and its files in the browser.

A version's page shows its image, or plays its movie (HTML5 video; the file is served
with range requests, so the browser seeks without fetching it whole) when a component is
web-playable (:data:`PLAYABLE`; ftrack's review components first, :data:`REVIEW_FIRST`),
lists its components with download links, and its notes.
Files and thumbnails go to the visitor only when the engine's permissions let them read
the component: the links hold no token, the cookie is the credential.
"""

from __future__ import annotations

from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from ....exceptions import ValidationError
from ...engine.backend import Backend
from ...files.store import StoreError
from ...files.thumbnails import ThumbnailError, cached, parse_size, thumbnail
from ...gate import DatabaseGate
from ..ftrack.files import sent
from .guard import NotFound
from .pages import checked_id, notes_on, project_of
from .reads import Reads, expression
from .rendering import Renderer

__all__ = ["PLAYABLE", "REVIEW_FIRST", "Review"]

#: File types a browser plays or shows, and their media types.
PLAYABLE = {".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg", ".mov": "video/mp4"}
IMAGES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp"}
#: ftrack's review components (``encode_media`` makes them), played or shown before any other.
REVIEW_FIRST = ("ftrackreview-mp4", "ftrackreview-webm", "ftrackreview-image")
#: Versions a grid shows at a time.
GRID = 60


class Review:
    """``/web/projects/{id}/review``, ``/web/versions/{id}`` and ``/web/files/{id}``."""

    def __init__(self, renderer: Renderer, reads: Reads, backend: Backend, database: DatabaseGate) -> None:
        self.renderer, self.reads, self.backend, self.database = renderer, reads, backend, database
        self.transfers = anyio.CapacityLimiter(4)

    async def grid(self, request: Request) -> Response:
        visitor = request.state.visitor
        project = await project_of(self.reads, visitor, request.path_params["id"])
        rows, following = await self.reads.query(visitor, expression(
            f"select version, thumbnail_id, asset.name, status.name, status.color, user.username, date "
            f"from AssetVersion where asset.parent.project_id is :project order by asset.name, version desc limit {GRID}",
            project=project["id"]), request.query_params.get("after") or None)  # fmt: skip
        versions = [{**v, "asset": rows.path(v, "asset", "name"), "status": rows.get(v.get("status")),
                     "author": rows.path(v, "user", "username")} for v in rows]  # fmt: skip
        return self.renderer.page(request, "review.html", {"project": project, "versions": versions, "following": following})

    async def version(self, request: Request) -> Response:
        visitor = request.state.visitor
        version_id = checked_id(request.path_params["id"])
        found = await self.reads.one(visitor, expression(
            "select version, comment, thumbnail_id, date, asset.name, asset.parent.name, status.name, status.color, "
            "user.username, task.name, components.name, components.file_type, components.size "
            "from AssetVersion where id is :id", id=version_id))  # fmt: skip
        if found is None:
            raise NotFound()
        components = sorted(found.get("components") or (), key=lambda c: str(c.get("name")))
        preferred = sorted(components, key=_review_first)
        movie = next((c for c in preferred if str(c.get("file_type") or "").lower() in PLAYABLE), None)
        image = next((c for c in preferred if str(c.get("file_type") or "").lower() in IMAGES), None)
        notes = await notes_on(self.reads, visitor, version_id)
        context = {"version": found, "components": components, "movie": movie, "image": image, "notes": notes,
                   "movie_type": PLAYABLE.get(str((movie or {}).get("file_type") or "").lower(), "")}  # fmt: skip
        return self.renderer.page(request, "version.html", context)

    async def file(self, request: Request) -> Response:
        """A component's file (``?size=N``: its thumbnail, N pixels wide), if the visitor may read it."""
        visitor = request.state.visitor
        component_id = checked_id(request.path_params["id"])
        files = self.backend.files
        size_given = request.query_params.get("size")
        try:
            stored, size = await self.database(files.find, visitor.username, component_id, visitor.user_id)
            if size_given is not None:
                pixels = parse_size(size_given)
                made = await self.database(cached, files.store, stored.id, pixels)
                if made is None:
                    made = await anyio.to_thread.run_sync(thumbnail, files.store, stored.id, pixels, limiter=self.transfers)
                return Response(made.data, media_type=made.content_type, headers={"Cache-Control": "private, max-age=3600"})
        except ValidationError as error:
            if error.code == "not_found":
                raise NotFound() from None
            raise
        except (StoreError, ThumbnailError):
            raise NotFound() from None
        suffix = stored.filename[stored.filename.rfind("."):].lower() if "." in stored.filename else ""
        media_type = PLAYABLE.get(suffix) or IMAGES.get(suffix) or "application/octet-stream"
        response = await sent(request, files, stored, size, self.transfers, {}, media_type)
        if request.query_params.get("view"):  # shown in the page (a movie, an image), not saved
            response.headers["Content-Disposition"] = "inline"
        return response


def _review_first(component: dict[str, Any]) -> tuple[int, str]:
    name = str(component.get("name"))
    return (REVIEW_FIRST.index(name) if name in REVIEW_FIRST else len(REVIEW_FIRST), name)
