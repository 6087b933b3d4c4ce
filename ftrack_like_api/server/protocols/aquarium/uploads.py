"""A file sent to Aquarium's routes (``items/<key>/upload``, ``upload``): streamed from the multipart body and kept.

The bytes go to the server location's store under a new component's id, and a
FileComponent at the server location is made for them (so ftrack's API reaches the file as
what it is) — or, on a ``Media`` item that is a component of ours (under a Version), the file
is that component's; the media fields Aquarium's client reads are answered: ``name``,
``originalname``, ``extension``, ``mimetype``, ``size``, ``path`` and ``url``
(``/files/<component id><extension>``, read back with the same credentials).
The multipart body is read as it arrives (:mod:`.multipart`): the file goes to the store in
chunks, never held whole in memory, whatever its size.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import uuid
from email.message import Message
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa

from ....exceptions import ValidationError
from ....symbol import SERVER_LOCATION_ID
from ...engine.batch import BatchContext
from .files import ITEM_KEY
from .multipart import read_parts

__all__ = ["Upload", "keep_component", "keep_media", "receive"]

#: The largest upload read (bytes), unless the server's own limit is lower.
MAX_UPLOAD = 1024 * 1024 * 1024
#: The largest field beside the file (bytes).
MAX_FIELD = 1024 * 1024
_MIMETYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


class Upload:
    """One uploaded file and the fields sent beside it."""

    def __init__(self, filename: str, size: int, mimetype: str | None, fields: dict[str, str], key: str | None = None) -> None:
        self.filename, self.size, self.fields = filename, size, fields
        # Aquarium's client sends mimetypes.guess_type's whole tuple as the part's type: a type that is not one is guessed here.
        sent = mimetype if mimetype and _MIMETYPE.match(mimetype) else None
        self.mimetype = sent or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        #: The component the file is kept as: a new one, or the Media item's own (``key``).
        self.id = key or str(uuid.uuid4())
        self.extension = os.path.splitext(filename)[1]

    @property
    def stored_name(self) -> str:
        return f"{self.id}{self.extension}"

    def media(self, base_url: str) -> dict[str, Any]:
        """The media fields of the file, as Aquarium's client reads them."""
        path = f"/files/{self.stored_name}"
        return {"name": self.filename, "originalname": self.filename, "extension": self.extension, "mimetype": self.mimetype,
                "size": self.size, "path": path, "url": base_url.rstrip("/") + path}  # fmt: skip

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


def receive(content_type: str, chunks: Iterable[bytes], write: Callable[[str, Iterator[bytes]], int], key: str | None = None) -> Upload:
    """The upload of a multipart/form-data body read from ``chunks``: the file (field ``file``) handed to
    ``write(id, bytes)`` as it arrives (which keeps it and answers its size), the other fields read (small).
    ``key``: the component the file is for (a Media item's), else a new one."""
    fields: dict[str, str] = {}
    found: list[Upload] = []

    def on_part(headers: Message, body: Iterator[bytes]) -> None:
        name = headers.get_param("name", header="content-disposition")
        filename = headers.get_filename()
        if name == "file" and filename:
            if found:
                raise ValidationError("An upload has one 'file' field", "bad_request")
            upload = Upload(os.path.basename(filename), 0, headers.get_content_type(), fields, key)
            upload.size = write(upload.id, body)
            found.append(upload)
        elif isinstance(name, str):
            value = bytearray()
            for chunk in body:
                value += chunk
                if len(value) > MAX_FIELD:
                    raise ValidationError(f"The upload's field {name!r} is over {MAX_FIELD} bytes", "bad_request")
            fields[name] = value.decode("utf-8", "replace")

    read_parts(content_type, chunks, on_part)
    if not found:
        raise ValidationError("The upload has no 'file' field", "bad_request")
    return found[0]


def keep_media(backend: Any, batch: BatchContext, upload: Upload) -> None:
    """The file of a Media item that is a component of ours (its id the upload's): its name, type and size, and its
    place at the server location (the bytes were written over any earlier file's)."""
    name, extension = os.path.splitext(upload.filename)
    backend.writer.update(batch, "FileComponent", [upload.id], {"name": name or upload.filename, "file_type": extension,
                                                                "size": upload.size})  # fmt: skip
    locations = backend.storage.tables["component_location"]
    held = batch.connection.execute(sa.select(locations.c.id).where(locations.c.component_id == upload.id,
                                                                    locations.c.location_id == SERVER_LOCATION_ID)).first()  # fmt: skip
    if held is None:
        backend.writer.create(batch, "ComponentLocation", {"__entity_type__": "ComponentLocation", "id": str(uuid.uuid4()),
                                                           "component_id": upload.id, "location_id": SERVER_LOCATION_ID,
                                                           "resource_identifier": upload.id})  # fmt: skip


def keep_component(backend: Any, batch: BatchContext, upload: Upload, item: str | None = None) -> None:
    """The FileComponent at the server location whose bytes the upload's are (already stored); uploaded on ``item``,
    the component's metadata names it (its project rules who reads the file: :mod:`.files`)."""
    name, extension = os.path.splitext(upload.filename)
    backend.writer.create(batch, "FileComponent", {"__entity_type__": "FileComponent", "id": upload.id, "name": name or upload.filename,
                                                   "file_type": extension, "size": upload.size})  # fmt: skip
    backend.writer.create(batch, "ComponentLocation", {"__entity_type__": "ComponentLocation", "id": str(uuid.uuid4()),
                                                       "component_id": upload.id, "location_id": SERVER_LOCATION_ID,
                                                       "resource_identifier": upload.id})  # fmt: skip
    if item is not None:
        backend.writer.create(batch, "Metadata", {"__entity_type__": "Metadata", "parent_id": upload.id, "key": ITEM_KEY,
                                                  "value": item, "parent_type": "FileComponent"})  # fmt: skip
