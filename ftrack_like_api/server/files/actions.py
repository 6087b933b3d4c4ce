"""The engine actions of the server location's files, carried out inside a batch like any other.

- ``get_upload_metadata``: where and how to PUT a component's file — one URL, or with
  ``"parts": N`` one per part (and which parts are stored already, to resume)
- ``complete_multipart_upload``: make the component's file of its parts
- ``generate_signed_url``: a download link that needs no other credential, for a while (or,
  with ``thumbnail_size``, a link to the thumbnail at that size)
- ``encode_media``: a job that encodes a component for review with ffmpeg (``media/``)

Answers carry paths starting with ``/component/``: the HTTP layer makes them absolute
(the engine does not know the server's address). A store that presigns (S3) answers
absolute URLs of its own, left as they are.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import quote

from ...exceptions import ValidationError
from .store import MAX_PARTS, KeyRefused, UploadTarget, check_key
from .thumbnails import MAX_SIZE

if TYPE_CHECKING:
    from ..engine.batch import BatchContext
    from . import Files

__all__ = ["ACTIONS", "MAX_LINK_LIFETIME", "register"]

#: The longest a signed download link may live (seven days, as S3's presigned URLs).
MAX_LINK_LIFETIME = 7 * 24 * 3600
#: The engine actions, and whether each writes rows.
#: (``complete_multipart_upload`` writes its row after the commit: assembling a large file holds no write lock.)
ACTIONS = {"get_upload_metadata": True, "complete_multipart_upload": False, "generate_signed_url": False,
           "encode_media": True}  # fmt: skip


def register(files: Files) -> None:
    """Register the actions with ``files.backend``."""
    handlers = {"get_upload_metadata": get_upload_metadata, "complete_multipart_upload": complete_multipart_upload,
                "generate_signed_url": generate_signed_url, "encode_media": encode_media}  # fmt: skip
    for name, handler in handlers.items():
        files.backend.register_action(name, _bound(handler, files), writes=ACTIONS[name])


def _bound(handler: Any, files: Files) -> Any:
    return lambda batch, operation: handler(files, batch, operation)


def _component_id(operation: Mapping[str, Any]) -> str:
    try:
        return check_key(operation.get("component_id"))
    except KeyRefused as refused:
        raise ValidationError(f"'component_id' must be a component's id: {refused}", "bad_request") from None


def _count(operation: Mapping[str, Any], name: str, low: int, high: int | None = None, default: Any = None) -> int:
    value = operation.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        upper = f" to {high}" if high is not None else " or more"
        raise ValidationError(f"'{name}' must be a whole number, {low}{upper} (not {value!r})", "bad_request")
    return value


def _text(operation: Mapping[str, Any], name: str, longest: int) -> str | None:
    value = operation.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > longest):
        raise ValidationError(f"'{name}' must be text of at most {longest} characters", "bad_request")
    return value


def get_upload_metadata(files: Files, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
    """Where to PUT a component's file (ftrack's answer), or its parts (``parts``: N)."""
    component_id = _component_id(operation)
    file_size = _count(operation, "file_size", 0)
    file_name = _text(operation, "file_name", 4096)
    checksum = _text(operation, "checksum", 200)
    parts = _count(operation, "parts", 1, MAX_PARTS, default=1)
    store = files.store
    if files.max_upload is not None and file_size > files.max_upload:
        raise ValidationError(f"The file is {file_size} bytes: this server takes at most {files.max_upload}", "too_large")
    files.access.writable(batch.connection, batch.principal, component_id, new=True)
    if parts == 1:
        target = UploadTarget(files.new_id(), component_id, file_size, max(file_size, 1), 1, checksum)
        urls = store.upload_urls(target, [1], files.link_lifetime)
        if urls:
            url = urls[0]
        else:
            token = files.signer.sign("upload", {"c": component_id, "u": None, "n": 1, "s": file_size,
                                                 "user": batch.user_id}, files.link_lifetime)  # fmt: skip
            url = f"/component/upload?token={quote(token)}"
        headers = {"Content-Type": "application/octet-stream"}
        if checksum:
            headers["Content-MD5"] = checksum
        return {"url": url, "headers": headers, "component_id": component_id}
    part_size = _count(operation, "part_size", 1, default=math.ceil(file_size / parts) or 1)
    if not part_size * (parts - 1) < file_size <= part_size * parts:
        raise ValidationError(f"{parts} parts of {part_size} bytes cannot make a file of {file_size} bytes "
                              "(every part but the last is part_size)", "bad_request")  # fmt: skip
    connection = batch.connection
    upload, resumed = files.uploads.start(connection, component_id, batch.user_id, file_name, file_size, part_size,
                                          parts, checksum)  # fmt: skip
    if not resumed:
        reference = store.begin(upload.target)
        if reference is not None:
            upload = files.uploads.set_store_ref(connection, upload, reference)
    stored = store.parts(upload.target) if resumed else {}
    numbers = list(range(1, parts + 1))
    presigned = store.upload_urls(upload.target, numbers, files.link_lifetime)
    if presigned is None:
        presigned = []
        for number in numbers:
            token = files.signer.sign("upload", {"c": component_id, "u": upload.id, "n": number, "s": _size_of(upload.target, number),
                                                 "user": batch.user_id}, files.link_lifetime)  # fmt: skip
            presigned.append(f"/component/upload?token={quote(token)}")
    return {
        "component_id": component_id,
        "upload_id": upload.id,
        "part_size": part_size,
        "urls": [{"part_number": number, "signed_url": url} for number, url in zip(numbers, presigned)],
        "stored": [{"part_number": number, "e_tag": f'"{part.e_tag}"', "size": part.size}
                   for number, part in sorted(stored.items())],  # fmt: skip
    }


def _size_of(target: UploadTarget, number: int) -> int:
    """The size part ``number`` of ``target`` must have."""
    return target.part_size if number < target.parts else target.file_size - target.part_size * (target.parts - 1)


def complete_multipart_upload(files: Files, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
    """Make the component's file of the upload's parts; nothing is visible as its file before."""
    component_id = _component_id(operation)
    upload_id = operation.get("upload_id")
    connection = batch.connection
    upload = files.uploads.get(connection, upload_id) if isinstance(upload_id, str) else None
    if upload is None or upload.target.key != component_id:
        raise ValidationError(f"No upload {upload_id!r} of component {component_id}", "not_found")
    if upload.completed_at is not None:
        raise ValidationError(f"The upload {upload_id} is complete already", "bad_request")
    files.access.writable(connection, batch.principal, component_id, new=True)
    given = operation.get("parts")
    if not isinstance(given, list) or not all(isinstance(part, Mapping) for part in given):
        raise ValidationError("'parts' must be a list of {\"part_number\", \"e_tag\"}", "bad_request")
    numbers = [part.get("part_number") for part in given]
    if numbers != list(range(1, upload.target.parts + 1)):
        raise ValidationError(f"'parts' must list the parts 1 to {upload.target.parts} in order", "bad_request")
    tags = [(number, str(part.get("e_tag") or "").strip('"')) for number, part in zip(numbers, given)]
    store = files.store
    size = store.complete(upload.target, tags)
    if size is None:
        stored = store.parts(upload.target)
        missing = [number for number in numbers if number not in stored]
        if missing:
            raise ValidationError(f"The upload {upload_id} lacks part(s) {', '.join(map(str, missing[:20]))}", "incomplete")
        wrong = [number for number, tag in tags if tag and tag != stored[number].e_tag]
        if wrong:
            raise ValidationError(f"Part(s) {', '.join(map(str, wrong[:20]))} are not those the e_tags name", "bad_request")
        size = store.assemble(upload.target, numbers)
    files.after_commit(batch, lambda: files.finish(upload.target))
    return {"component_id": component_id, "size": size}


def generate_signed_url(files: Files, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
    """A link that downloads the component's file without other credentials, for ``expires`` seconds.

    With ``thumbnail_size`` (ours, not ftrack's: pixels), a link to its thumbnail at that
    size instead: always the server's own (``/component/thumbnail``), as only the server
    scales images, whatever store keeps the file.
    """
    component_id = _component_id(operation)
    expires = _count(operation, "expires", 1, MAX_LINK_LIFETIME, default=3600)
    stored = files.access.readable(batch.connection, batch.principal, component_id)
    if operation.get("thumbnail_size") is not None:
        size = _count(operation, "thumbnail_size", 1, MAX_SIZE)
        token = files.signer.sign("download", {"c": component_id}, expires)
        return {"signed_url": f"/component/thumbnail?token={quote(token)}&size={size}"}
    url = files.store.download_url(component_id, stored.filename, expires)
    if url is None:
        token = files.signer.sign("download", {"c": component_id}, expires)
        url = f"/component/get?token={quote(token)}"
    return {"signed_url": url}


def encode_media(files: Files, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
    """A queued Job that encodes the component for review (``{"job_id": …}``): see :mod:`.media.jobs`."""
    return files.media.request(batch, operation)
