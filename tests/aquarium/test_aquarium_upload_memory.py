"""An upload to Aquarium's routes is streamed to the store: the memory it takes does not grow with the file.

The body is made as the server receives it (chunks of 64 KiB) and read by the same code as
the upload route (:func:`receive`) into a real folder store; tracemalloc's peak is compared
for a file of 4 MiB and one of 64 MiB.
"""

import json
import tracemalloc

import pytest

from ftrack_like_api.exceptions import ValidationError
from ftrack_like_api.server.files.folder import FolderStore
from ftrack_like_api.server.protocols.aquarium.uploads import receive

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
CHUNK = 64 * 1024


def _body(size, end=True):
    """The multipart body of a file of ``size`` bytes and a data field, in chunks."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n" + json.dumps({"note": "v1"})).encode()
    yield f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plate.exr\"\r\n".encode()
    yield b"Content-Type: image/x-exr\r\n\r\n"
    block = bytes(range(256)) * (CHUNK // 256)
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece
    if end:
        yield f"\r\n--{BOUNDARY}--\r\n".encode()


def _upload(store, size):
    def write(key, chunks):
        return store.write_file(key, chunks, 1 << 40).size

    tracemalloc.start()
    try:
        upload = receive(CONTENT_TYPE, _body(size), write)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return upload, peak


def test_memory_does_not_grow_with_the_file(tmp_path):
    store = FolderStore(tmp_path / "storage")
    small, small_peak = _upload(store, 4 * 1024 * 1024)
    large, large_peak = _upload(store, 64 * 1024 * 1024)

    assert (small.size, large.size) == (4 * 1024 * 1024, 64 * 1024 * 1024)
    assert store.size(large.id) == 64 * 1024 * 1024
    assert large.data() == {"note": "v1"} and large.mimetype == "image/x-exr" and large.filename == "plate.exr"
    head = next(store.open(large.id, 0, 512))
    assert head == bytes(range(256)) * 2
    assert large_peak < 4 * 1024 * 1024  # a few chunks, not the 64 MiB file
    assert large_peak < small_peak + 1024 * 1024  # sixteen times the file, about the same memory


def test_a_body_cut_short_or_without_a_file_is_refused(tmp_path):
    store = FolderStore(tmp_path / "storage")

    def write(key, chunks):
        return store.write_file(key, chunks, 1 << 40).size

    with pytest.raises(ValidationError, match="ends inside a part"):
        receive(CONTENT_TYPE, _body(1000, end=False), write)
    with pytest.raises(ValidationError, match="no 'file' field"):
        fields_only = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{{}}\r\n--{BOUNDARY}--"
        receive(CONTENT_TYPE, iter([fields_only.encode()]), write)
    with pytest.raises(ValidationError, match="no multipart boundary"):
        receive("multipart/form-data", iter([b""]), write)
