"""``POST /upload/publish_thumbnail``: ``upload_thumbnail`` (and ``create``/``update`` with an ``image``).

``shotgun_api3`` sends the image as a multipart form with the entity and the same
credentials as its JSON calls, and reads the answer as text: ``1:<attachment id>`` on
success, anything else an error it raises. The image is kept by the server's file store as
a component of ours in the server location, and becomes the entity's thumbnail in one batch
(:meth:`.calls.Calls.thumbnail`); its links are ftrack's signed ``/component/thumbnail`` links,
which an entity's ``image`` field reads.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
import os
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ....exceptions import ValidationError
from ...auth.throttle import Refusal
from ..ftrack.answers import log_failure
from ..ftrack.body import read_body

__all__ = ["MAX_IMAGE", "ThumbnailUploads", "form_fields"]

log = logging.getLogger(__name__)

#: The largest image (and form) received.
MAX_IMAGE = 64 * 1024 * 1024
_AUTH = ("script_name", "script_key", "user_login", "user_password", "session_token", "sudo_as_login")


def form_fields(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """(text fields, files as (file name, bytes)) of a ``multipart/form-data`` body."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValidationError("The upload is a multipart/form-data form", "bad_request")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)  # fmt: skip
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if not isinstance(name, str):
            continue
        if filename is not None:
            files[name] = (filename, payload)
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, files


class ThumbnailUploads:
    """The upload routes of ShotGrid's endpoint (``api`` authenticates)."""

    def __init__(self, api: Any) -> None:
        self.api, self.backend, self.database = api, api.backend, api.database

    def routes(self) -> list[Route]:
        return [Route("/upload/publish_thumbnail", self.publish_thumbnail, methods=["POST"])]

    async def publish_thumbnail(self, request: Request) -> Response:
        try:
            return await self._thumbnail(request)
        except Exception as failure:  # never a traceback: the client shows the text it gets
            error_id = log_failure(failure, "POST /upload/publish_thumbnail failed")
            return PlainTextResponse(f"0\nThe server failed to keep the thumbnail (error id {error_id} in its log)")

    async def _thumbnail(self, request: Request) -> Response:
        body = await read_body(request, MAX_IMAGE)
        if body is None:
            return PlainTextResponse(f"0\nThe image is over {MAX_IMAGE} bytes")
        try:
            fields, files = form_fields(request.headers.get("content-type", ""), body)
        except ValidationError as error:
            return PlainTextResponse(f"0\n{error.reason}")
        if "thumb_image" not in files:
            return PlainTextResponse("0\nThe form has no thumb_image file")
        if "filmstrip" in fields:
            return PlainTextResponse("0\nFilmstrip thumbnails are not served here")
        address = request.client.host if request.client else ""
        try:
            user_id, username, source, _ = await self.database(
                self.api._authenticate, {k: fields[k] for k in _AUTH if k in fields}, address)  # fmt: skip
        except Refusal:
            return PlainTextResponse(f"0\n{self.api.refused}")
        except ValidationError as error:
            return PlainTextResponse(f"0\n{error.reason}")
        filename, data = files["thumb_image"]
        component = str(uuid.uuid4())
        try:
            await self.database(self.backend.files.put, username, component, [data], user_id)
        except ValidationError as error:
            return PlainTextResponse(f"0\n{error.reason}")
        try:
            number = int(fields.get("entity_id", ""))
        except ValueError:
            number = None
        params = {"type": fields.get("entity_type"), "id": number, "component": component,
                  "name": os.path.splitext(os.path.basename(filename))[0] or "thumbnail",
                  "file_type": os.path.splitext(filename)[1], "size": len(data)}  # fmt: skip
        result = await self.database(self.backend.execute, [{"action": "shotgrid_write", "method": "thumbnail", "params": params}],
                                     username, None, user_id, source)  # fmt: skip
        if isinstance(result, dict):
            await self.database(self.backend.files.store.remove, component)
            return PlainTextResponse("0\n" + self.api.message(result))
        return PlainTextResponse(f"1:{result[0]}\n")
