"""Files are streamed both ways: the server's memory does not grow with the size of the file it carries.

The server runs in this process (uvicorn in a thread), so ``tracemalloc`` sees what it
allocates; the client streams from a generator and reads with ``iter_content``, so it
holds one chunk at a time. The peak for a file eight times larger stays about the same.
"""

import tracemalloc
import uuid

import pytest
import requests

from ftrack_like_api.server.app import create_app, serving

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(backend, tmp_path_factory):
    backend.files.configure(tmp_path_factory.mktemp("storage"))
    with serving(create_app(backend)) as url:
        yield url


def carried_peak(url, key, size):
    """Upload and download ``size`` bytes; the most memory allocated meanwhile, in bytes."""
    headers = {"ftrack-user": "admin", "ftrack-api-key": key}
    component = str(uuid.uuid4())
    made = requests.post(f"{url}/api", headers=headers, json=[
        {"action": "create", "entity_type": "FileComponent", "entity_key": [component], "entity_data": {"id": component}},
        {"action": "get_upload_metadata", "component_id": component, "file_name": "big", "file_size": size}])  # fmt: skip
    upload = made.json()[1]["url"]
    block = b"\x5a" * (256 * 1024)

    def body():
        for _ in range(size // len(block)):
            yield block

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        assert requests.put(upload, data=body()).status_code == 200
        received = 0
        with requests.get(f"{url}/component/get", params={"id": component}, headers=headers, stream=True) as response:
            assert response.status_code == 200
            for chunk in response.iter_content(256 * 1024):
                received += len(chunk)
        assert received == size
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_size_of_the_file(server, backend):
    key = backend.auth.create_key("admin", "memory")
    carried_peak(server, key, 64 * MiB)  # warm up: imports, pools, buffers, the signing secret
    small = carried_peak(server, key, 24 * MiB)
    large = carried_peak(server, key, 192 * MiB)
    assert large < small + 4 * MiB, (small, large)
    assert large < 32 * MiB, large  # a few chunks in flight, never the file
