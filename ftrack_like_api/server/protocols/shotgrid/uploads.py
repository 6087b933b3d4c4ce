"""Files through ShotGrid's endpoint: uploads, and ``download_attachment``.

- ``POST /upload/publish_thumbnail``: ``upload_thumbnail`` (and ``create``/``update`` with an
  ``image``). The image becomes the entity's thumbnail (:meth:`.calls.Calls.thumbnail`); its
  links are ftrack's signed ``/component/thumbnail`` links, which an entity's ``image`` reads.
- ``POST /upload/upload_file``: ``upload`` of any other file — an Attachment, and the value of
  the entity's file field when one is named (a Version's ``sg_uploaded_movie``;
  :meth:`.calls.Calls.attach`).
- ``GET /file_serve/attachment/<id>``: the Attachment's bytes, for ``download_attachment``,
  which signs in with the ``_session_id`` cookie (a session token) as ShotGrid's web pages do.

``shotgun_api3`` sends an upload as a multipart form with the entity and the same credentials
as its JSON calls, and reads the answer as text: ``1:<attachment id>`` on success, anything
else an error it raises. The file is kept by the server's file store as a component of ours
in the server location, in one batch with what refers to it.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
import mimetypes
import os
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool
from starlette.routing import Route

from ....exceptions import ValidationError
from ...auth.throttle import Refusal
from ...files.store import NotStored
from ..ftrack.answers import log_failure
from ..ftrack.body import read_body

__all__ = ["FileRoutes", "MAX_IMAGE", "form_fields"]

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


class FileRoutes:
    """The file routes of ShotGrid's endpoint (``api`` authenticates)."""

    def __init__(self, api: Any) -> None:
        self.api, self.backend, self.database = api, api.backend, api.database

    def routes(self) -> list[Route]:
        return [Route("/upload/publish_thumbnail", self.publish_thumbnail, methods=["POST"]),
                Route("/upload/upload_file", self.upload_file, methods=["POST"]),
                Route("/file_serve/attachment/{number:int}", self.file_serve, methods=["GET"])]  # fmt: skip

    async def publish_thumbnail(self, request: Request) -> Response:
        return await self._guarded(request, "thumb_image", "thumbnail")

    async def upload_file(self, request: Request) -> Response:
        return await self._guarded(request, "file", "attach")

    async def _guarded(self, request: Request, part: str, method: str) -> Response:
        try:
            return await self._upload(request, part, method)
        except Exception as failure:  # never a traceback: the client shows the text it gets
            error_id = log_failure(failure, f"POST {request.url.path} failed")
            return PlainTextResponse(f"0\nThe server failed to keep the file (error id {error_id} in its log)")

    async def _upload(self, request: Request, part: str, method: str) -> Response:
        """Receive the form, keep its file as the caller, and run ``method`` on it in one batch."""
        body = await read_body(request, MAX_IMAGE)
        if body is None:
            return PlainTextResponse(f"0\nThe file is over {MAX_IMAGE} bytes")
        try:
            fields, files = form_fields(request.headers.get("content-type", ""), body)
        except ValidationError as error:
            return PlainTextResponse(f"0\n{error.reason}")
        if part not in files:
            return PlainTextResponse(f"0\nThe form has no {part} file")
        if "filmstrip" in fields:  # kept as a file, the entity's filmstrip_image (no frames are cut from it here)
            method, fields["field_name"] = "attach", "filmstrip_image"
        address = request.client.host if request.client else ""
        try:
            user_id, username, source, _ = await self.database(
                self.api._authenticate, {k: fields[k] for k in _AUTH if k in fields}, address)  # fmt: skip
        except Refusal:
            return PlainTextResponse(f"0\n{self.api.refused}")
        except ValidationError as error:
            return PlainTextResponse(f"0\n{error.reason}")
        filename, data = files[part]
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
                  "file_type": os.path.splitext(filename)[1], "size": len(data), "field_name": fields.get("field_name"),
                  "display_name": fields.get("display_name") or os.path.basename(filename),
                  "tag_list": fields.get("tag_list"), "content_type": mimetypes.guess_type(filename)[0]}  # fmt: skip
        operation = {"action": "shotgrid_write", "method": method, "params": params}
        result = await self.database(self.backend.execute, [operation], username, None, user_id, source)
        if isinstance(result, dict):
            await self.database(self.backend.files.store.remove, component)
            return PlainTextResponse("0\n" + self.api.message(result))
        return PlainTextResponse(f"1:{result[0]}\n")

    async def file_serve(self, request: Request) -> Response:
        """An Attachment's file, to whoever signs in with the ``_session_id`` cookie and may read it."""
        try:
            return await self._serve(request)
        except Exception as failure:
            error_id = log_failure(failure, "GET /file_serve/attachment failed")
            return PlainTextResponse(f"The server failed to send the file (error id {error_id} in its log)", status_code=500)

    async def _serve(self, request: Request) -> Response:
        token = request.cookies.get("_session_id")
        try:
            if not token:
                raise Refusal(self.api.refused)
            user_id, username = await self.database(self.backend.auth.verify_token, token)
        except Refusal:
            return PlainTextResponse(self.api.refused, status_code=401)
        number = request.path_params["number"]
        key = await self.database(self._component, number)
        try:
            if key is None:
                raise ValidationError(f"Attachment with id {number} doesn't exist", "not_found")
            stored, size = await self.database(self.backend.files.find, username, key, user_id)
        except (ValidationError, NotStored) as error:
            return PlainTextResponse(str(getattr(error, "reason", error)), status_code=404)
        headers = {"Content-Length": str(size), "Content-Disposition": f'attachment; filename="{stored.filename}"'}
        kind = mimetypes.guess_type(stored.filename)[0] or "application/octet-stream"
        return StreamingResponse(iterate_in_threadpool(self.backend.files.open(key)), media_type=kind, headers=headers)

    def _component(self, number: int) -> str | None:
        """The component an Attachment's integer id names (None: none)."""
        with self.backend.engine.connect() as connection:
            return self.api.calls.ids.uuids(connection, [number]).get(number)  # type: ignore[no-any-return]
