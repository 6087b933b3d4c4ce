"""Two ``ftrack-like serve`` processes on one database and one shared storage (issue 17's
"a component uploaded through one worker is downloaded through another").

Each server is a process of its own, as two machines behind a load balancer would run it:
what one stored (the file, the parts of an unfinished upload, the upload's row, the signing
secret) the other must find. Run on PostgreSQL and on SQLite (one file, two processes), with
the files in a shared folder and in S3 (moto's server, where the bytes go straight between
the client and the store, in parts of S3's smallest size).
"""

import contextlib
import os
import socket
import subprocess
import sys
import shutil
import time
import urllib.parse
import uuid

import pytest
import requests

from ftrack_like_api.exceptions import FileTransferError, LocationError
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import ORIGIN_LOCATION_ID, SERVER_LOCATION_ID

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

MIB = 1024 * 1024


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(database, storage):
    """``ftrack-like serve`` on ``database``, keeping files in ``storage``, as its own process, ready: its URL."""
    executable = shutil.which("ftrack-like", path=os.path.dirname(sys.executable)) or shutil.which("ftrack-like")
    port = free_port()
    environment = {**os.environ, "FTRACK_LIKE_STORAGE": str(storage)}
    server = subprocess.Popen([executable, "serve", "--port", str(port), "--database", database, "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.communicate(timeout=30)


@pytest.fixture(scope="module", params=["folder", "s3"])
def servers(request, database, tmp_path_factory):
    """Two servers on the module's database and one storage: (first URL, second URL, an admin key, a part size)."""
    from ftrack_like_api.server import Backend

    if request.param == "s3":
        import boto3

        request.getfixturevalue("s3_endpoint")
        bucket = f"two-servers-{uuid.uuid4().hex[:12]}"
        boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
        storage, part = f"s3://{bucket}/studio", 5 * MIB  # S3 takes no smaller part but the last
    else:
        storage, part = tmp_path_factory.mktemp("shared-storage"), MIB
    with Backend.from_url(database) as backend:  # made (and migrated) before either server starts
        key = backend.auth.create_key("admin", "two-servers")
    with serving(database, storage) as first, serving(database, storage) as second:
        yield first, second, key, part


@pytest.fixture
def part(servers):
    """The part size of the uploads cut in two (the smallest the storage takes)."""
    return servers[3]


@pytest.fixture
def sessions(servers):
    first, second, key, _ = servers
    with Session(server_url=first, api_user="admin", api_key=key, schema_cache_path=False) as one, \
            Session(server_url=second, api_user="admin", api_key=key, schema_cache_path=False) as other:  # fmt: skip
        yield one, other


@pytest.fixture
def session(sessions):
    """The first server's session (the one ``version`` is made through)."""
    return sessions[0]


def read_back(session, component_id):
    server = session.get("Location", SERVER_LOCATION_ID)
    data = server.accessor.open(component_id, "rb")
    try:
        return data.read()
    finally:
        data.close()


class Cut(Exception):
    """Raised from a progress callback: the transfer stops there, as a dropped connection would stop it."""


def test_a_file_uploaded_through_one_server_is_downloaded_through_the_other(sessions, version, tmp_path):
    one, other = sessions
    source = tmp_path / "plate.mov"
    source.write_bytes(os.urandom(3 * MIB + 17))
    component = one.create_component(str(source), {"version": version, "name": "main"},
                                     location=one.get("Location", SERVER_LOCATION_ID))  # fmt: skip
    found = other.get("Component", component["id"])
    assert other.get_component_availability(found)[SERVER_LOCATION_ID] == 100.0
    assert read_back(other, component["id"]) == source.read_bytes()
    # A range from the other server, and a signed link made by one server served by the other.
    tail = bytearray()
    other.transport.files().download(component["id"], _Sink(tail), start=3 * MIB)
    assert bytes(tail) == source.read_bytes()[3 * MIB :]
    link = urllib.parse.urlsplit(one.get("Location", SERVER_LOCATION_ID).get_url(component))
    if link.path.endswith("/component/get"):  # the server's own link (an S3 store's is presigned by S3's rules)
        link = link._replace(netloc=urllib.parse.urlsplit(other.server_url).netloc)
    assert requests.get(urllib.parse.urlunsplit(link), timeout=30).content == source.read_bytes()
    # Removed through the other server: gone for both.
    other.get("Location", SERVER_LOCATION_ID).remove_component(found)
    with pytest.raises(FileTransferError) as gone:
        one.transport.files().download(component["id"], _Sink(bytearray()))
    assert gone.value.status == 404


def test_a_large_upload_cut_short_resumes_through_the_session_and_the_other_server_serves_it(sessions, version,
                                                                                               tmp_path, part):  # fmt: skip
    one, other = sessions
    size = 8 * part + 1000
    source = tmp_path / "render.exr"
    source.write_bytes(os.urandom(size))
    component = one.create_component(str(source), {"version": version, "name": "beauty"}, location=None)
    server, origin = one.get("Location", SERVER_LOCATION_ID), one.get("Location", ORIGIN_LOCATION_ID)
    server.accessor.part_size = part

    def cut_after_five_parts(done, total):  # four at a time: the first part is stored by the time the sixth begins
        if done >= 5 * part:
            raise Cut()

    server.accessor.progress = cut_after_five_parts
    with pytest.raises(LocationError) as cut:
        server.add_component(component, origin)
    assert isinstance(cut.value.__cause__, Cut)
    assert one.get_component_availability(component)[SERVER_LOCATION_ID] == 0.0
    with pytest.raises(FileTransferError) as not_yet:  # a half-finished upload is no file, on either server
        other.transport.files().download(component["id"], _Sink(bytearray()))
    assert not_yet.value.status == 404

    said = []
    server.accessor.progress = lambda done, total: said.append(done)
    server.add_component(component, origin)
    # The parts the server held were counted first, in one step: only the others were sent again.
    assert part <= said[0] < size and said[0] % part == 0 and said[-1] == size
    assert other.get_component_availability(other.get("Component", component["id"]))[SERVER_LOCATION_ID] == 100.0
    assert read_back(other, component["id"]) == source.read_bytes()


def test_an_upload_cut_on_one_server_is_finished_through_the_other(sessions, version, tmp_path, part):
    one, other = sessions
    size = 4 * part
    source = tmp_path / "cache.abc"
    source.write_bytes(os.urandom(size))
    component = one.create("FileComponent", {"name": "cache", "file_type": ".abc", "size": size,
                                             "version_id": version["id"]})  # fmt: skip
    one.commit()

    def cut_after_three_parts(done, total):  # two at a time: the first part is stored by the time the fourth begins
        if done >= 3 * part:
            raise Cut()

    with pytest.raises(Cut):
        one.transport.files().upload(component["id"], source.name, source, part_size=part, parallel=2,
                                     progress=cut_after_three_parts)  # fmt: skip
    said = []
    other.transport.files().upload(component["id"], source.name, source, part_size=part, parallel=2,
                                   progress=lambda done, total: said.append(done))  # fmt: skip
    assert part <= said[0] < size and said[0] % part == 0  # the parts the first server kept, found by the second
    assert read_back(one, component["id"]) == source.read_bytes()


class _Sink:
    """A binary destination that keeps what is written in a bytearray."""

    def __init__(self, kept):
        self.kept = kept

    def write(self, data):
        self.kept += data
        return len(data)
