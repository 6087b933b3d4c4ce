"""A file sent to Aquarium's routes (``items/<key>/upload``, ``upload``): read from the multipart body and kept.

The bytes go to the server location's store under a new component's id, and a
FileComponent at the server location is made for them (so ftrack's API reaches the file as
what it is); the media fields Aquarium's client reads are answered: ``name``,
``originalname``, ``extension``, ``mimetype``, ``size``, ``path`` and ``url``
(``/files/<component id><extension>``, read back with the same credentials).
The multipart body is parsed by the standard library's email parser (no extra dependency).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import mimetypes
import os
import re
import uuid
from typing import Any

from ....exceptions import ValidationError
from ....symbol import SERVER_LOCATION_ID
from ...engine.batch import BatchContext
from .files import ITEM_KEY

__all__ = ["Upload", "keep_component", "parse_multipart"]

#: The largest upload read (bytes), unless the server's own limit is lower.
MAX_UPLOAD = 1024 * 1024 * 1024
_MIMETYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


class Upload:
    """One uploaded file and the fields sent beside it."""

    def __init__(self, filename: str, content: bytes, mimetype: str | None, fields: dict[str, str]) -> None:
        self.filename, self.content, self.fields = filename, content, fields
        # Aquarium's client sends mimetypes.guess_type's whole tuple as the part's type: a type that is not one is guessed here.
        sent = mimetype if mimetype and _MIMETYPE.match(mimetype) else None
        self.mimetype = sent or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        self.id = str(uuid.uuid4())
        self.extension = os.path.splitext(filename)[1]

    @property
    def stored_name(self) -> str:
        return f"{self.id}{self.extension}"

    def media(self, base_url: str) -> dict[str, Any]:
        """The media fields of the file, as Aquarium's client reads them."""
        path = f"/files/{self.stored_name}"
        return {"name": self.filename, "originalname": self.filename, "extension": self.extension, "mimetype": self.mimetype,
                "size": len(self.content), "path": path, "url": base_url.rstrip("/") + path}  # fmt: skip

    def data(self) -> dict[str, Any]:
        """The ``data`` field sent beside the file (a JSON object), or {}."""
        text = self.fields.get("data")
        if not text:
            return {}
        try:
            found = json.loads(text)
        except ValueError:
            raise ValidationError("The upload's data field is not JSON", "bad_request") from None
        if not isinstance(found, dict):
            raise ValidationError("The upload's data field is a JSON object", "bad_request")
        return found


def parse_multipart(content_type: str, body: bytes) -> Upload:
    """The file (field ``file``) and other fields of a multipart/form-data body."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValidationError("An upload is multipart/form-data with a 'file' field", "bad_request")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    upload = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if name == "file" and filename:
            upload = (filename, payload, part.get_content_type())
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8", "replace")
    if upload is None:
        raise ValidationError("The upload has no 'file' field", "bad_request")
    return Upload(os.path.basename(upload[0]), upload[1], upload[2], fields)


def keep_component(backend: Any, batch: BatchContext, upload: Upload, item: str | None = None) -> None:
    """The FileComponent at the server location whose bytes the upload's are (already stored); uploaded on ``item``,
    the component's metadata names it (its project rules who reads the file: :mod:`.files`)."""
    name, extension = os.path.splitext(upload.filename)
    backend.writer.create(batch, "FileComponent", {"__entity_type__": "FileComponent", "id": upload.id, "name": name or upload.filename,
                                                   "file_type": extension, "size": len(upload.content)})  # fmt: skip
    backend.writer.create(batch, "ComponentLocation", {"__entity_type__": "ComponentLocation", "id": str(uuid.uuid4()),
                                                       "component_id": upload.id, "location_id": SERVER_LOCATION_ID,
                                                       "resource_identifier": upload.id})  # fmt: skip
    if item is not None:
        backend.writer.create(batch, "Metadata", {"__entity_type__": "Metadata", "parent_id": upload.id, "key": ITEM_KEY,
                                                  "value": item, "parent_type": "FileComponent"})  # fmt: skip
