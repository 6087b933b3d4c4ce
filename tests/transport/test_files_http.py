"""HttpFileChannel against the real app on 127.0.0.1 and a real database: parts, resume, checksums, ranges, memory.

What the server received is read from the app's own record of its requests (``counted``), and cut
connections are cut by a TCP proxy in front of it: nothing of the server is stood in for.
"""

import io
import os
import tracemalloc
import urllib.parse

import pytest
import requests

from ftrack_like_api.exceptions import FileTransferError
from ftrack_like_api.session import Session
from ftrack_like_api.transport import MockTransport
from ftrack_like_api.transport.files import CHUNK
from ftrack_like_api.transport.http import HttpTransport

KIB = 1024
MIB = 1024 * KIB


def data_file(tmp_path, size, name="source.bin"):
    """A file of ``size`` random bytes; (its path, its bytes)."""
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def downloaded(channel, component_id, start=0):
    out = io.BytesIO()
    channel.download(component_id, out, start=start)
    return out.getvalue()


def test_a_small_file_goes_in_one_put_and_comes_back_whole(http_session, counted, new_component, tmp_path):
    channel = http_session.transport.files()
    component_id = new_component(5000)
    path, data = data_file(tmp_path, 5000)
    before = len(counted[1].puts())
    channel.upload(component_id, "source.bin", path)
    assert len(counted[1].puts(200)) - before == 1
    assert downloaded(channel, component_id) == data


def test_a_file_object_and_an_empty_file_upload_too(http_session, new_component):
    channel = http_session.transport.files()
    component_id, empty_id = new_component(11), new_component(0)
    source = io.BytesIO(b"xx0123456789a")
    source.seek(2)  # from where it stands
    channel.upload(component_id, "digits.txt", source, size=11)
    channel.upload(empty_id, "empty.txt", io.BytesIO())
    assert downloaded(channel, component_id) == b"0123456789a"
    assert downloaded(channel, empty_id) == b""


def test_a_large_file_goes_in_parts_sent_in_parallel(http_session, counted, new_component, tmp_path):
    channel = http_session.transport.files()
    size = 9 * 256 * KIB + 1234  # ten parts, the last one short
    component_id = new_component(size)
    path, data = data_file(tmp_path, size)
    said = []
    before = len(counted[1].puts())
    channel.upload(component_id, "source.bin", path, part_size=256 * KIB, parallel=3,
                   progress=lambda done, total: said.append((done, total)))  # fmt: skip
    puts = counted[1].puts()[before:]
    assert len(puts) == 10 and all(put["status"] == 200 for put in puts)
    assert all(len(put["headers"]["x-content-sha256"]) == 64 for put in puts)
    assert said[-1] == (size, size) and all(total == size for _, total in said)
    assert downloaded(channel, component_id) == data


@pytest.mark.parametrize("parallel", [1, 4])
def test_a_cut_upload_resumes_sending_only_the_missing_parts(http_session, counted, new_component, tmp_path, parallel):
    channel = http_session.transport.files()
    size = 16 * 128 * KIB
    component_id = new_component(size)
    path, data = data_file(tmp_path, size)

    def cut_at_half(done, total):
        if done > total // 2:
            raise KeyboardInterrupt  # as a person's Ctrl-C would

    before = len(counted[1].puts())
    with pytest.raises(KeyboardInterrupt):
        channel.upload(component_id, "source.bin", path, part_size=128 * KIB, parallel=parallel, progress=cut_at_half)
    stored = [put for put in counted[1].puts()[before:] if put["status"] == 200]
    assert 0 < len(stored) < 16
    with pytest.raises(FileTransferError) as not_yet:  # a half-finished upload is no file
        downloaded(channel, component_id)
    assert not_yet.value.status == 404

    before = len(counted[1].puts())
    channel.upload(component_id, "source.bin", path, part_size=128 * KIB, parallel=4)
    resumed = counted[1].puts()[before:]
    assert len(resumed) == 16 - len(stored)
    assert downloaded(channel, component_id) == data


def test_a_connection_dropped_mid_part_sends_that_part_again(counted, admin_key, new_component, tmp_path, cut):
    url, _ = counted
    size = 4 * 256 * KIB
    component_id = new_component(size)
    path, data = data_file(tmp_path, size)
    port = urllib.parse.urlsplit(url).port
    with cut(port, after=300 * KIB, direction="up") as (proxy, cuts):
        channel = HttpTransport(proxy, "admin", admin_key, backoff=0.01).files()
        channel.upload(component_id, "source.bin", path, part_size=256 * KIB, parallel=1)
    assert cuts[0] == 1
    assert downloaded(HttpTransport(url, "admin", admin_key).files(), component_id) == data


def test_a_part_that_arrives_changed_is_refused(http_session, counted, new_component, tmp_path):
    channel = http_session.transport.files()
    size = 3 * MIB  # more than one read of the body (1 MiB), so it changes while it goes
    component_id = new_component(size)
    path, _ = data_file(tmp_path, size)

    def change_the_file(done, total):  # the file changes on disk while it is sent (after its checksum)
        if done < total:
            with open(path, "r+b") as changed:
                changed.seek(total - 1)
                changed.write(b"\0" if path.read_bytes()[-1:] != b"\0" else b"\1")

    with pytest.raises(FileTransferError) as refused:
        channel.upload(component_id, "source.bin", path, progress=change_the_file)
    assert refused.value.status == 400
    assert counted[1].puts()[-1]["status"] == 400
    with pytest.raises(FileTransferError):
        downloaded(channel, component_id)  # nothing of it was kept


def test_a_part_with_a_wrong_checksum_is_refused_and_not_kept(http_session, new_component):
    component_id = new_component(2 * 100)
    answer = http_session.transport.handle([{"action": "get_upload_metadata", "component_id": component_id,
                                             "file_name": "x.bin", "file_size": 200, "parts": 2,
                                             "part_size": 100}])[0]  # fmt: skip
    first = answer["urls"][0]["signed_url"]
    refused = requests.put(first, data=b"a" * 100, headers={"x-content-sha256": "0" * 64}, timeout=10)
    assert refused.status_code == 400 and refused.json()["exception"]
    again = http_session.transport.handle([{"action": "get_upload_metadata", "component_id": component_id,
                                            "file_name": "x.bin", "file_size": 200, "parts": 2,
                                            "part_size": 100}])[0]  # fmt: skip
    assert again.get("stored", []) == []


def test_downloads_resume_from_a_byte_with_range(http_session, counted, new_component, tmp_path):
    channel = http_session.transport.files()
    size = 300 * KIB
    component_id = new_component(size)
    path, data = data_file(tmp_path, size)
    channel.upload(component_id, "source.bin", path)
    assert downloaded(channel, component_id, start=1000) == data[1000:]
    assert counted[1].requests("GET", "/component/get")[-1]["headers"]["range"] == "bytes=1000-"
    assert downloaded(channel, component_id, start=size) == b""
    with channel.open(component_id) as stream:
        assert stream.read(10) == data[:10]
        assert stream.read() == data[10:]


def test_a_download_cut_short_resumes_where_it_stopped(counted, admin_key, new_component, tmp_path, cut):
    url, counter = counted
    size = 2 * MIB
    component_id = new_component(size)
    path, data = data_file(tmp_path, size)
    HttpTransport(url, "admin", admin_key).files().upload(component_id, "source.bin", path)
    port = urllib.parse.urlsplit(url).port
    before = len(counter.requests("GET", "/component/get"))
    with cut(port, after=700 * KIB, direction="down") as (proxy, cuts):
        channel = HttpTransport(proxy, "admin", admin_key, backoff=0.01).files()
        assert downloaded(channel, component_id) == data
    assert cuts[0] == 1
    gets = counter.requests("GET", "/component/get")[before:]
    assert len(gets) == 2 and "range" not in gets[0]["headers"], [g["headers"].get("range") for g in gets]
    assert 0 < int(gets[1]["headers"].get("range", "bytes=0-")[len("bytes="):-1]) < size


def test_no_secret_travels_in_a_url(http_session, counted, admin_key, new_component, tmp_path):
    channel = http_session.transport.files()
    component_id = new_component(1000)
    path, data = data_file(tmp_path, 1000)
    channel.upload(component_id, "source.bin", path)
    downloaded(channel, component_id)
    link = channel.url(component_id, expires=60)
    assert admin_key not in link and "apiKey" not in link and "username" not in link
    assert requests.get(link, timeout=10).content == data  # the link alone is enough
    for seen in counted[1].seen:
        assert admin_key not in seen["query"] and "apiKey" not in seen["query"]


def test_a_removed_file_is_gone(http_session, new_component, tmp_path):
    channel = http_session.transport.files()
    component_id = new_component(10)
    channel.upload(component_id, "ten.bin", io.BytesIO(b"0123456789"))
    channel.remove(component_id)
    with pytest.raises(FileTransferError) as gone:
        downloaded(channel, component_id)
    assert gone.value.status == 404 and gone.value.code


def peak_rss(pid):
    """The peak resident memory of process ``pid`` in bytes (VmHWM: Linux's /proc)."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the server's peak memory from /proc")
def test_memory_does_not_grow_with_the_file_size(database, serve, make, tmp_path):
    """The client (tracemalloc, this process) and ``ftrack-like serve`` (its peak RSS) on 16 then 96 MiB."""
    from ftrack_like_api.server import Backend

    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", f"memory-{os.urandom(3).hex()}")
    part = 4 * MIB
    client, server = {}, {}
    with serve(database, "--storage", str(tmp_path / "storage")) as url:
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            channel, version = session.transport.files(), make.version(session)
            for size in (16 * MIB, 96 * MIB):
                component_id = make.component(session, version, size=size)["id"]
                path, _ = data_file(tmp_path, size)
                tracemalloc.start()
                try:
                    channel.upload(component_id, "big.bin", path, part_size=part, parallel=4)
                    with open(tmp_path / "back.bin", "wb") as out:
                        assert channel.download(component_id, out) == size
                    client[size] = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                server[size] = peak_rss(url.pid)
                assert (tmp_path / "back.bin").read_bytes() == path.read_bytes()
    # 96 MiB went through in less than three parts' worth: nothing grows with the file. Between the two runs
    # the peak differs by how many of the four parts' 1 MiB reads happen to be held at once (each read and
    # its copy on its way to the socket): 24 parts overlap more often than 4 (4.04 MiB was seen under load).
    in_flight = 4 * 2 * CHUNK
    assert client[96 * MIB] < 3 * part and client[96 * MIB] - client[16 * MIB] < in_flight, client
    more = 80 * MIB  # went through both, the second time
    assert server[96 * MIB] - server[16 * MIB] < more / 5, server  # (RSS: the allocator keeps what it had)


def test_a_transport_without_files_says_so():
    with pytest.raises(FileTransferError, match="carries no files"):
        MockTransport(lambda batch: []).files()
