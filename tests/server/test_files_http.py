"""The server keeps files: upload URLs, downloads with Range, removal, permissions, limits — over real HTTP.

A studio of two projects, each with a version and a component; ``free`` is granted the
first project only, ``reader`` reads everything and writes nothing. The files are kept in
a folder of the test's; the server is uvicorn on 127.0.0.1.
"""

import base64
import hashlib
import json
import logging
import os
import shutil
import socket
import urllib.parse
import uuid

import pytest
import requests

from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.server.files.store import FolderStore

MiB = 1024 * 1024
SERVER_LOCATION = "3a372bde-05bc-11e4-8908-20c9d081909b"


@pytest.fixture(scope="module")
def storage(backend, tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    backend.files.configure(root, max_upload=64 * MiB)
    return root


@pytest.fixture(scope="module")
def studio(backend, call, storage):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    call.create("User", username="free")
    call.create("User", username="reader")
    backend.auth.set_role("reader", "read-only")
    made = {}
    for name in ("open", "secret"):
        project = call.create("Project", name=name, full_name=name, project_schema_id=schema)["id"]
        shot = call.create("Shot", name=f"{name}_sh010", parent_id=project)["id"]
        asset_type = call.query("AssetType limit 1")[0]["id"]
        asset = call.create("Asset", name=f"{name}_plate", context_id=shot, type_id=asset_type)["id"]
        made[name] = call.create("AssetVersion", asset_id=asset)["id"]
    backend.auth.grant("free", "open")
    return made


@pytest.fixture(scope="module")
def server(backend, storage):
    with serving(create_app(backend)) as url:
        yield url


@pytest.fixture(scope="module")
def keys(backend, studio):
    return {name: backend.auth.create_key(name, "files") for name in ("admin", "free", "reader")}


class Client:
    """One user over HTTP: batches and file requests with their headers."""

    def __init__(self, url, user, key):
        self.url, self.user, self.key = url, user, key
        self.headers = {"ftrack-user": user, "ftrack-api-key": key, "ftrack-strict-api": "true"}

    def batch(self, *operations):
        response = requests.post(f"{self.url}/api", data=json.dumps(list(operations)), headers=self.headers)
        return response.status_code, response.json()

    def call(self, *operations):
        status, answer = self.batch(*operations)
        assert status == 200, answer
        return answer

    def component(self, version, name="main", file_type=".bin"):
        component = str(uuid.uuid4())
        self.call({"action": "create", "entity_type": "FileComponent", "entity_key": [component],
                   "entity_data": {"id": component, "name": name, "file_type": file_type, "version_id": version}})  # fmt: skip
        return component

    def get(self, component, **headers):
        return requests.get(f"{self.url}/component/get", params={"id": component}, headers={**self.headers, **headers})

    def upload(self, component, data):
        checksum = base64.b64encode(hashlib.md5(data).digest()).decode()
        (meta,) = self.call({"action": "get_upload_metadata", "component_id": component, "file_name": "plate.bin",
                             "file_size": len(data), "checksum": checksum})  # fmt: skip
        response = requests.put(meta["url"], data=data, headers=meta["headers"])
        assert response.status_code == 200, response.text
        return meta


@pytest.fixture(scope="module")
def admin(server, keys):
    return Client(server, "admin", keys["admin"])


@pytest.fixture(scope="module")
def free(server, keys):
    return Client(server, "free", keys["free"])


@pytest.fixture(scope="module")
def reader(server, keys):
    return Client(server, "reader", keys["reader"])


def test_a_file_goes_up_by_its_upload_url_and_comes_back_byte_for_byte(admin, studio, server, storage):
    component = admin.component(studio["open"], name="plate", file_type=".exr")
    data = os.urandom(3 * MiB + 5)
    meta = admin.upload(component, data)
    assert meta["url"].startswith(f"{server}/component/upload?token=")
    assert meta["headers"] == {"Content-Type": "application/octet-stream",
                               "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode()}  # fmt: skip
    assert meta["component_id"] == component
    response = admin.get(component)
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-disposition"] == 'attachment; filename="plate.exr"'
    assert response.headers["accept-ranges"] == "bytes" and response.headers["content-length"] == str(len(data))
    assert (storage / "components" / component[:2] / component).read_bytes() == data


def test_ranges_are_served_as_206(admin, studio):
    component = admin.component(studio["open"])
    data = bytes(range(256)) * 100
    admin.upload(component, data)
    response = admin.get(component, Range="bytes=100-199")
    assert response.status_code == 206 and response.content == data[100:200]
    assert response.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert admin.get(component, Range="bytes=25000-").content == data[25000:]
    assert admin.get(component, Range="bytes=-10").content == data[-10:]
    assert admin.get(component, Range=f"bytes={len(data)}-").status_code == 416


def test_a_wrong_checksum_keeps_nothing(admin, studio):
    component = admin.component(studio["open"])
    (meta,) = admin.call({"action": "get_upload_metadata", "component_id": component, "file_name": "x",
                          "file_size": 4, "checksum": base64.b64encode(hashlib.md5(b"good").digest()).decode()})  # fmt: skip
    response = requests.put(meta["url"], data=b"evil", headers=meta["headers"])
    assert response.status_code == 400 and response.json()["error_code"] == "checksum_mismatch"
    assert admin.get(component).status_code == 404
    response = requests.put(meta["url"], data=b"good", headers={**meta["headers"], "x-content-sha256": "0" * 64})
    assert response.status_code == 400
    assert admin.get(component).status_code == 404


def test_tokens_that_are_not_the_servers_or_expired_are_refused(admin, backend, studio):
    component = admin.component(studio["open"])
    meta = admin.upload(component, b"first")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(meta["url"]).query)["token"][0]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    base = meta["url"].split("?")[0]
    assert requests.put(base, params={"token": forged}, data=b"x").status_code == 403
    assert requests.put(base, data=b"x").status_code == 403
    expired = backend.files.signer.sign("upload", {"c": component, "u": None, "n": 1, "s": 10, "user": None}, -5)
    response = requests.put(base, params={"token": expired}, data=b"x")
    assert response.status_code == 403 and "expired" in response.json()["content"]
    assert admin.get(component).content == b"first"


def test_a_body_over_the_limit_is_refused_before_it_is_read(admin, studio, server):
    component = admin.component(studio["open"])
    (meta,) = admin.call({"action": "get_upload_metadata", "component_id": component, "file_name": "x", "file_size": 10})
    url = urllib.parse.urlsplit(meta["url"])
    with socket.create_connection((url.hostname, url.port)) as sock:
        # Headers only: a server that waited for the body would never answer.
        sock.sendall(f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: x\r\nContent-Length: {10**12}\r\n\r\n".encode())
        sock.settimeout(10)
        answer = b""
        while b"}" not in answer:
            received = sock.recv(65536)
            if not received:
                break
            answer += received
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "too_large" in answer
    # The server's own limit (--max-upload), for the metadata too.
    status, error = admin.batch({"action": "get_upload_metadata", "component_id": component, "file_size": 65 * MiB})
    assert status == 413 and error["error_code"] == "too_large", error
    # A body without Content-Length that runs over is cut off and nothing is kept.
    response = requests.put(meta["url"], data=iter([b"x" * 6, b"x" * 6]))
    assert response.status_code == 413
    assert admin.get(component).status_code == 404


def test_a_large_file_goes_in_parts_and_resumes_with_the_parts_stored(admin, studio, storage):
    component = admin.component(studio["open"])
    data = os.urandom(2 * MiB + 300)
    part_size = MiB
    ask = {"action": "get_upload_metadata", "component_id": component, "file_name": "big.bin", "file_size": len(data),
           "parts": 3, "part_size": part_size}  # fmt: skip
    (meta,) = admin.call(ask)
    assert [u["part_number"] for u in meta["urls"]] == [1, 2, 3] and meta["stored"] == [] and meta["part_size"] == part_size
    pieces = [data[i * part_size : (i + 1) * part_size] for i in range(3)]
    tags = {}
    for number in (1, 3):  # then the connection "drops"
        response = requests.put(meta["urls"][number - 1]["signed_url"], data=pieces[number - 1],
                                headers={"x-content-sha256": hashlib.sha256(pieces[number - 1]).hexdigest()})  # fmt: skip
        assert response.status_code == 200, response.text
        tags[number] = response.headers["etag"]
        # Sent with its SHA-256 only, a part is hashed once: its ETag is that digest (with Content-MD5, the MD5 as S3's).
        assert tags[number] == f'"{hashlib.sha256(pieces[number - 1]).hexdigest()}"'
    assert admin.get(component).status_code == 404  # half an upload is no file
    (again,) = admin.call(ask)
    assert again["upload_id"] == meta["upload_id"]
    assert again["stored"] == [{"part_number": 1, "e_tag": tags[1], "size": part_size},
                               {"part_number": 3, "e_tag": tags[3], "size": len(pieces[2])}]  # fmt: skip
    unsent = [{"part_number": n, "e_tag": ""} for n in (1, 2, 3)]
    status, error = admin.batch({"action": "complete_multipart_upload", "component_id": component,
                                 "upload_id": meta["upload_id"], "parts": unsent})  # fmt: skip
    assert status == 400 and error["error_code"] == "incomplete"
    response = requests.put(again["urls"][1]["signed_url"], data=pieces[1])
    tags[2] = response.headers["etag"]
    (done,) = admin.call({"action": "complete_multipart_upload", "component_id": component, "upload_id": meta["upload_id"],
                          "parts": [{"part_number": n, "e_tag": tags[n]} for n in (1, 2, 3)]})  # fmt: skip
    assert done == {"component_id": component, "size": len(data)}
    assert admin.get(component).content == data
    assert not (storage / "uploads" / meta["upload_id"]).exists()  # the parts are gone once whole
    # Its URLs are spent.
    assert requests.put(meta["urls"][0]["signed_url"], data=pieces[0]).status_code == 403


def test_a_user_reads_and_writes_files_where_they_may_the_component(admin, free, reader, studio):
    open_, secret = admin.component(studio["open"]), admin.component(studio["secret"])
    admin.upload(open_, b"open file")
    admin.upload(secret, b"secret file")
    assert free.get(open_).content == b"open file"
    response = free.get(secret)
    assert response.status_code == 404 and response.json()["error_code"] == "not_found"
    status, error = free.batch({"action": "get_upload_metadata", "component_id": secret, "file_size": 1})
    assert status == 400 and error["error_code"] == "not_found"
    status, error = free.batch({"action": "generate_signed_url", "component_id": secret})
    assert error["error_code"] == "not_found"
    assert requests.get(f"{free.url}/component/remove", params={"id": secret}, headers=free.headers).status_code == 404
    # Read-only: downloads, and neither uploads nor removes.
    assert reader.get(secret).content == b"secret file"
    status, error = reader.batch({"action": "get_upload_metadata", "component_id": secret, "file_size": 1})
    assert status == 403 and error["exception"] == "PermissionError", error
    response = requests.get(f"{reader.url}/component/remove", params={"id": secret}, headers=reader.headers)
    assert response.status_code == 403
    assert admin.get(secret).content == b"secret file"
    free.upload(open_, b"changed by free")
    assert admin.get(open_).content == b"changed by free"


def test_the_official_clients_query_credentials_work_and_are_never_logged(admin, keys, studio, caplog):
    component = admin.component(studio["open"])
    admin.upload(component, b"by query")
    with caplog.at_level(logging.DEBUG):
        response = requests.get(f"{admin.url}/component/get",
                                params={"id": component, "username": "admin", "apiKey": keys["admin"]})  # fmt: skip
        assert response.status_code == 200 and response.content == b"by query"
        wrong = requests.get(f"{admin.url}/component/get", params={"id": component, "username": "admin", "apiKey": "nope"})
        assert wrong.status_code == 401
    # The server's records (the client's urllib3 logs its own URLs, key and all).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("ftrack_like_api", "uvicorn")))
    assert "files get user=admin" in logged
    assert keys["admin"] not in logged and "apiKey" not in logged and "nope" not in logged


def test_a_signed_link_works_for_its_component_for_its_lifetime(admin, backend, studio, server):
    component, other = admin.component(studio["open"]), admin.component(studio["open"])
    admin.upload(component, b"linked")
    admin.upload(other, b"other")
    (answer,) = admin.call({"action": "generate_signed_url", "component_id": component, "expires": 60})
    assert answer["signed_url"].startswith(f"{server}/component/get?token=")
    assert requests.get(answer["signed_url"]).content == b"linked"
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(answer["signed_url"]).query)["token"][0]
    # The token names one component: the id in the query changes nothing.
    assert requests.get(f"{server}/component/get", params={"token": token, "id": other}).content == b"linked"
    expired = backend.files.signer.sign("download", {"c": component}, -1)
    assert requests.get(f"{server}/component/get", params={"token": expired}).status_code == 403
    # An upload token is no download link.
    meta = admin.upload(other, b"other")
    upload_token = urllib.parse.parse_qs(urllib.parse.urlsplit(meta["url"]).query)["token"][0]
    assert requests.get(f"{server}/component/get", params={"token": upload_token}).status_code == 403


def test_encode_media_refuses_what_it_cannot_encode_and_creates_nothing(admin, free, reader, studio, monkeypatch, tmp_path):
    def jobs():
        return len(admin.call({"action": "query", "expression": "select id from Job"})[0]["data"])

    before = jobs()
    component = admin.component(studio["open"], name="plate", file_type=".mov")
    admin.upload(component, b"not encoded yet")
    ask = {"action": "encode_media", "component_id": component, "version_id": None, "keep_original": True}
    # No ffmpeg where the server runs: an error naming it (an empty folder stands for a machine without it).
    monkeypatch.setenv("FTRACK_LIKE_FFMPEG", str(tmp_path))
    status, error = admin.batch(ask)
    assert status == 400 and error["error_code"] == "no_encoder"
    assert "Media encoding needs ffmpeg" in error["content"] and "apt-get install ffmpeg" in error["content"]
    monkeypatch.delenv("FTRACK_LIKE_FFMPEG")
    # A read-only user makes no components, whatever is installed.
    assert reader.batch(ask)[1]["error_code"] == "read_only"
    assert free.batch({**ask, "keep_original": "sometimes"})[1]["error_code"] == "bad_request"
    assert free.batch({**ask, "component_id": "../etc/passwd"})[1]["error_code"] == "bad_request"
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        # Nothing to encode, or a version out of sight: clear errors, no job.
        assert free.batch({**ask, "component_id": str(uuid.uuid4())})[1]["error_code"] == "not_found"
        empty = free.component(studio["open"], file_type=".mov")
        status, error = free.batch({**ask, "component_id": empty})
        assert error["error_code"] == "not_stored" and "has no file in the ftrack.server location" in error["content"]
        status, error = free.batch({**ask, "version_id": studio["secret"]})
        assert error["error_code"] == "not_found" and f"No AssetVersion with id {studio['secret']}" in error["content"]
    elif os.environ.get("CI") == "true":
        pytest.fail("CI must install ffmpeg (.ci/run does)")
    assert jobs() == before


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "/etc/passwd", "a\x00b", "x" * 4000])
def test_hostile_ids_are_refused_and_hostile_names_are_only_names(admin, studio, storage, hostile):
    status, error = admin.batch({"action": "get_upload_metadata", "component_id": hostile, "file_size": 1})
    assert status == 400 and error["error_code"] == "bad_request"
    assert requests.get(f"{admin.url}/component/get", params={"id": hostile}, headers=admin.headers).status_code == 400
    component = admin.component(studio["open"], name="n", file_type="")
    ask = {"action": "get_upload_metadata", "component_id": component, "file_name": hostile, "file_size": 2}
    if "\x00" in hostile:  # no text of any batch may hold one
        assert admin.batch(ask)[1]["error_code"] == "bad_request"
    else:
        (meta,) = admin.call(ask)
        assert requests.put(meta["url"], data=b"ok").status_code == 200
        assert admin.get(component).content == b"ok"
    assert {path.name for path in storage.iterdir()} <= {"components", "uploads", "thumbnails"}


def test_a_deleted_component_or_its_last_server_location_takes_its_file(admin, studio, storage):
    deleted, unplaced = admin.component(studio["open"]), admin.component(studio["open"])
    for component in (deleted, unplaced):
        admin.upload(component, b"to go")
    place = str(uuid.uuid4())
    admin.call({"action": "create", "entity_type": "ComponentLocation", "entity_key": [place],
                "entity_data": {"id": place, "component_id": unplaced, "location_id": SERVER_LOCATION,
                                "resource_identifier": unplaced}})  # fmt: skip
    admin.call({"action": "delete", "entity_type": "FileComponent", "entity_key": [deleted]})
    assert not (storage / "components" / deleted[:2] / deleted).exists()
    assert admin.get(unplaced).content == b"to go"
    admin.call({"action": "delete", "entity_type": "ComponentLocation", "entity_key": [place]})
    assert not (storage / "components" / unplaced[:2] / unplaced).exists()


def test_a_failed_batch_removes_nothing(admin, studio, storage):
    component = admin.component(studio["open"])
    admin.upload(component, b"kept")
    status, _ = admin.batch({"action": "delete", "entity_type": "FileComponent", "entity_key": [component]},
                            {"action": "create", "entity_type": "NoSuchType", "entity_data": {}})  # fmt: skip
    assert status != 200
    assert admin.get(component).content == b"kept"


def test_storage_that_cannot_be_written_is_a_503_and_keeps_nothing(admin, backend, studio, tmp_path):
    component = admin.component(studio["open"])
    blocked = tmp_path / "blocked"
    blocked.write_bytes(b"a file where the storage folder should be")
    previous = backend.files.store
    backend.files.configure(FolderStore(blocked), max_upload=64 * MiB)
    try:
        (meta,) = admin.call({"action": "get_upload_metadata", "component_id": component, "file_size": 4})
        response = requests.put(meta["url"], data=b"data", headers=meta["headers"])
        assert response.status_code == 503 and response.json()["error_code"] == "storage_unavailable"
        assert response.headers["content-type"] == "application/json"
    finally:
        backend.files.configure(previous, max_upload=64 * MiB)
    assert admin.get(component).status_code == 404


def test_abandoned_uploads_are_cleaned_up(admin, backend, studio, storage):
    import datetime

    component = admin.component(studio["open"])
    (meta,) = admin.call({"action": "get_upload_metadata", "component_id": component, "file_size": 10, "parts": 2})
    assert requests.put(meta["urls"][0]["signed_url"], data=b"x" * 5).status_code == 200
    stray = storage / "uploads" / str(uuid.uuid4())
    stray.mkdir(parents=True)
    (stray / "1").write_bytes(b"nobody's")
    assert backend.files.clean_up() >= 1  # the stray parts, which belong to no upload
    assert (storage / "uploads" / meta["upload_id"]).exists() and not stray.exists()
    later = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(days=2)
    assert backend.files.clean_up(now=later) >= 1
    assert not (storage / "uploads" / meta["upload_id"]).exists()
    assert requests.put(meta["urls"][1]["signed_url"], data=b"x" * 5).status_code == 403


def test_the_cleanup_sweeps_files_no_component_owns(admin, backend, studio, storage, call):
    import datetime
    import time

    shot = call.query("select id from Shot limit 1")[0]["id"]
    asset = call.create("Asset", name="swept", context_id=shot, type_id=call.query("AssetType limit 1")[0]["id"])["id"]
    version = call.create("AssetVersion", asset_id=asset)["id"]
    cascaded, kept = admin.component(version), admin.component(studio["open"])
    for component in (cascaded, kept):
        admin.upload(component, b"old file")
    never = str(uuid.uuid4())  # uploaded by a client that never committed the component
    backend.files.put("admin", never, [b"orphan"])
    admin.call({"action": "delete", "entity_type": "AssetVersion", "entity_key": [version]})  # its components go by cascade
    paths = {key: storage / "components" / key[:2] / key for key in (cascaded, kept, never)}
    assert all(path.exists() for path in paths.values())
    backend.files.clean_up()
    assert all(path.exists() for path in paths.values())  # younger than the expiry: left alone
    old = time.time() - 3 * 86400
    for path in paths.values():
        os.utime(path, (old, old))
    assert backend.files.clean_up(now=datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)) >= 2
    assert not paths[cascaded].exists() and not paths[never].exists()
    assert admin.get(kept).content == b"old file"


def test_in_process_files_go_through_the_same_rules(admin, backend, studio, storage):
    component = admin.component(studio["open"])
    part = backend.files.put("admin", component, [b"in ", b"process"])
    assert part.size == 10 and part.md5_hex == hashlib.md5(b"in process").hexdigest()
    assert b"".join(backend.files.download("admin", component, 3)) == b"process"
    assert backend.files.path(component) == storage / "components" / component[:2] / component
    answer = backend.execute([{"action": "get_upload_metadata", "component_id": component, "file_size": 3}], "admin")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(answer[0]["url"]).query)["token"][0]
    assert answer[0]["url"].startswith("/component/upload?token=")  # a path: only the HTTP layer knows the address
    backend.files.receive(token, [b"new"], {"content-length": "3"})
    assert b"".join(backend.files.download("admin", component)) == b"new"
    with pytest.raises(Exception, match="may read, not write"):
        backend.files.put("reader", component, [b"no"])
    assert backend.files.remove("admin", component) is True


def test_a_download_is_named_after_its_component_whatever_the_name(admin, studio):
    component = admin.component(studio["open"], name='plaque "finale"/v2; é', file_type=".exr")
    admin.upload(component, b"named")
    response = admin.get(component)
    assert response.status_code == 200 and response.content == b"named"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"plaque _finale__v2_ _.exr\"; filename*=UTF-8''plaque%20_finale__v2_%20%C3%A9.exr"
    )
