"""The server with its files in S3 (moto's server, its own process): the bytes go between the client and the store.

The server hands out presigned URLs and redirects; a record of every request the server
answered shows it never received an upload body nor sent a file's bytes.
"""

import base64
import hashlib
import io
import os
import uuid

import pytest
import requests

from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.server.files.stores import store_for

PART = 5 * 1024 * 1024


class Recorded:
    """An ASGI app in front of another, noting each HTTP request's method, path and the body bytes it carried."""

    def __init__(self, app):
        self.app = app
        self.requests = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen = {"method": scope["method"], "path": scope["path"], "received": 0, "sent": 0}
        self.requests.append(seen)

        async def counting_receive():
            message = await receive()
            seen["received"] += len(message.get("body", b""))
            return message

        async def counting_send(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            seen["sent"] += len(message.get("body", b""))
            await send(message)

        return await self.app(scope, counting_receive, counting_send)

    def paths(self):
        return [seen["path"] for seen in self.requests]


@pytest.fixture(scope="module")
def bucket(s3_endpoint):
    import boto3

    name = f"served-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def served(backend, bucket):
    backend.files.configure(store_for(f"s3://{bucket}/studio"))
    recorded = Recorded(create_app(backend))
    with serving(recorded) as url:
        yield url, recorded


@pytest.fixture(scope="module")
def admin(admin_key):
    return {"ftrack-user": "admin", "ftrack-api-key": admin_key}


@pytest.fixture
def component(call):
    return call.create("FileComponent", name="plate", file_type=".exr")["id"]


def api(url, headers, *operations):
    answer = requests.post(f"{url}/api", json=list(operations), headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert isinstance(result, list), result
    return result


def test_a_file_goes_up_and_down_through_presigned_urls_only(served, admin, component, s3_endpoint, bucket):
    url, recorded = served
    data = os.urandom(300_000)
    checksum = base64.b64encode(hashlib.md5(data).digest()).decode()
    [metadata] = api(url, admin, {"action": "get_upload_metadata", "component_id": component, "file_name": "plate.exr",
                                  "file_size": len(data), "checksum": checksum})  # fmt: skip
    assert metadata["url"].startswith(s3_endpoint + f"/{bucket}/studio/components/")
    assert metadata["headers"]["Content-MD5"] == checksum
    put = requests.put(metadata["url"], data=io.BytesIO(data), headers=metadata["headers"], timeout=60)
    assert put.status_code == 200, put.text

    before = len(recorded.requests)
    got = requests.get(f"{url}/component/get", params={"id": component}, headers=admin, allow_redirects=False, timeout=60)
    assert got.status_code == 307
    assert got.headers["Location"].startswith(s3_endpoint)
    direct = requests.get(got.headers["Location"], timeout=60)
    assert direct.content == data
    assert direct.headers["Content-Disposition"] == 'attachment; filename="plate.exr"'
    followed = requests.get(f"{url}/component/get", params={"id": component}, headers={**admin, "Range": "bytes=10-19"},
                            timeout=60)  # fmt: skip
    assert followed.status_code == 206 and followed.content == data[10:20]

    assert "/component/upload" not in recorded.paths()
    served_files = [seen for seen in recorded.requests[before:] if seen["path"] == "/component/get"]
    assert len(served_files) == 2
    assert all(seen["sent"] < 1000 for seen in served_files)  # redirects, not the file


def test_a_large_file_goes_up_in_presigned_parts_resumes_and_completes(served, admin, component):
    url, recorded = served
    data = os.urandom(2 * PART + 4321)
    ask = {"action": "get_upload_metadata", "component_id": component, "file_name": "plate.exr", "file_size": len(data),
           "parts": 3, "part_size": PART}  # fmt: skip
    [first] = api(url, admin, ask)
    assert first["stored"] == []
    urls = {item["part_number"]: item["signed_url"] for item in first["urls"]}
    assert all("X-Amz-Signature=" in link for link in urls.values())
    etags = {}
    for number in (1, 3):  # then the connection is lost
        answer = requests.put(urls[number], data=data[(number - 1) * PART : number * PART], timeout=60)
        assert answer.status_code == 200, answer.text
        etags[number] = answer.headers["ETag"]
    [again] = api(url, admin, ask)
    assert again["upload_id"] == first["upload_id"]
    assert [(p["part_number"], p["e_tag"], p["size"]) for p in again["stored"]] == [(1, etags[1], PART), (3, etags[3], 4321)]
    link = {item["part_number"]: item["signed_url"] for item in again["urls"]}[2]
    etags[2] = requests.put(link, data=data[PART : 2 * PART], timeout=60).headers["ETag"]
    [done] = api(url, admin, {"action": "complete_multipart_upload", "component_id": component, "upload_id": first["upload_id"],
                              "parts": [{"part_number": n, "e_tag": etags[n]} for n in (1, 2, 3)]})  # fmt: skip
    assert done == {"component_id": component, "size": len(data)}
    got = requests.get(f"{url}/component/get", params={"id": component}, headers=admin, timeout=60)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    assert "/component/upload" not in recorded.paths()


def test_thumbnails_and_removal_work_with_the_files_in_s3(served, admin, component, backend, bucket):
    Image = pytest.importorskip("PIL.Image")
    url, _ = served
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (10, 120, 200)).save(out, "PNG")
    backend.files.put("admin", component, [out.getvalue()])
    thumb = requests.get(f"{url}/component/thumbnail", params={"id": component, "size": 64}, headers=admin, timeout=60)
    assert thumb.status_code == 200, thumb.text
    assert Image.open(io.BytesIO(thumb.content)).size == (64, 48)
    store = backend.files.store
    assert store.read_thumbnail(component, 64) == thumb.content  # cached in the bucket
    removed = requests.get(f"{url}/component/remove", params={"id": component}, headers=admin, timeout=60)
    assert removed.status_code == 200, removed.text
    listed = store.client.list_objects_v2(Bucket=bucket, Prefix="studio/")
    assert [o["Key"] for o in listed.get("Contents", []) if component in o["Key"]] == []


OFFICIAL = """
import json, sys, tempfile, os
import requests
import ftrack_api, ftrack_api.symbol

server, user, key, path = sys.argv[1:5]
said = {}
session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=False,
                             schema_cache_path=False)
location = session.get("Location", ftrack_api.symbol.SERVER_LOCATION_ID)
component = session.create_component(path, data={"name": "frame"}, location=location)
session.commit()
url = location.get_url(component)
answer = requests.get(url)
said["downloaded"] = [answer.status_code, answer.url.split("?")[0], len(answer.content)]
said["same"] = answer.content == open(path, "rb").read()
thumbnail = requests.get(location.get_thumbnail_url(component, size=10))
said["thumbnail"] = [thumbnail.status_code, thumbnail.headers.get("Content-Type")]
said["component"] = component["id"]
location.remove_component(component)
session.commit()
said["after_remove"] = requests.get(url).status_code
print(json.dumps(said))
"""


def test_the_official_client_keeps_a_file_in_s3_through_our_server(official_python, served, backend, bucket, tmp_path,
                                                                    s3_endpoint):  # fmt: skip
    import json
    import subprocess

    Image = pytest.importorskip("PIL.Image")
    url, recorded = served
    path = tmp_path / "frame.png"
    Image.new("RGB", (640, 480), (200, 100, 0)).save(path)
    key = backend.auth.create_key("admin", "official client s3")
    run = subprocess.run([official_python, "-c", OFFICIAL, url, "admin", key, str(path)], capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    status, where, size = said["downloaded"]
    assert status == 200 and where.startswith(f"{s3_endpoint}/{bucket}/") and size == path.stat().st_size
    assert said["same"] is True
    assert said["thumbnail"] == [200, "image/png"]  # a PNG's thumbnail is a PNG
    assert said["after_remove"] == 404
    assert "/component/upload" not in recorded.paths()
