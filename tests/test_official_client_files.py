"""The official ftrack-python-api client's server location, unchanged, against our server's files.

The client (3.1.0, in a virtual environment of its own: see ``official_python`` in
conftest.py) creates a component in ``ftrack.server`` from a local file, reads it back
byte for byte through ``location.get_url`` and through the location's accessor, gets
thumbnail URLs that serve the image scaled (the location's, and ``thumbnail_url`` after
``create_thumbnail``), and removes it. And a component uploaded through one ``serve`` process is downloaded through
another, on one database and one shared storage folder.
"""

import io
import json
import os
import subprocess
import textwrap
import uuid

import pytest
import requests

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.demo import serving  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

PART = 600 * 1024
SERVER_LOCATION = textwrap.dedent(
    """
    import json, sys
    import ftrack_api
    import requests

    server, user, key, path, image = sys.argv[1:6]
    said = {}
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key,
                                 auto_connect_event_hub=False, schema_cache_path=False)
    location = session.query('Location where name is "ftrack.server"').one()
    said["location"] = location["id"]
    component = session.create_component(path, data={"name": "plate"}, location=location)
    session.commit()
    said["component"] = component["id"]
    said["availability"] = session.get_component_availability(component)[location["id"]]
    url = location.get_url(component)
    said["url_starts"] = url.split("?")[0]
    with open(path, "rb") as source:
        original = source.read()
    said["by_url"] = requests.get(url).content == original
    data = location.accessor.open(location.get_resource_identifier(component), "rb")
    said["by_accessor"] = data.read() == original
    data.close()
    picture = session.create_component(image, data={"name": "still"}, location=location)
    session.commit()
    thumbnail = requests.get(location.get_thumbnail_url(picture, size=32))
    said["thumbnail"] = [thumbnail.status_code, thumbnail.headers.get("content-type"), thumbnail.content.hex()]
    me = session.query('User where username is "{}"'.format(user)).one()
    me.create_thumbnail(image)                       # ftrack's CreateThumbnailMixin: the server location, then thumbnail_id
    shown = session.query("select thumbnail_url from User where id is '{}'".format(me["id"])).one()["thumbnail_url"]
    said["thumbnail_url"] = requests.get(shown["url"], params={"size": 16}).content.hex()
    location.remove_component(component)
    said["after_remove"] = requests.get(url).status_code
    said["places_left"] = len(session.query(
        "ComponentLocation where component_id is '{}'".format(component["id"])).all())
    print(json.dumps(said))
    """
)


def test_the_official_client_keeps_a_file_in_the_server_location(official_python, database, tmp_path):
    source = tmp_path / "plate.0001.exr"
    data = os.urandom(2 * 1024 * 1024 + 11)
    source.write_bytes(data)
    image = tmp_path / "still.png"
    Image = pytest.importorskip("PIL.Image", reason="thumbnails need Pillow (the server extra)")
    Image.new("RGB", (640, 480), (200, 120, 40)).save(image)
    storage = tmp_path / "storage"
    with Backend.from_url(database) as backend:
        backend.files.configure(storage)
        with serving(backend) as url:
            key = backend.auth.create_key("admin", "official client files")
            run = subprocess.run([official_python, "-c", SERVER_LOCATION, url, "admin", key, str(source), str(image)],
                                 capture_output=True, text=True, timeout=300)  # fmt: skip
            assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert said["location"] == "3a372bde-05bc-11e4-8908-20c9d081909b"
    assert said["availability"] == 100.0
    assert said["url_starts"] == f"{url}/component/get"
    assert said["by_url"] is True and said["by_accessor"] is True
    assert said["after_remove"] == 404 and said["places_left"] == 0
    # A thumbnail URL that serves the image scaled down: through the location, and through thumbnail_url.
    status, kind, scaled = said["thumbnail"]
    assert (status, kind) == (200, "image/png")  # a PNG's thumbnail is a PNG, as ftrack's server answers
    assert Image.open(io.BytesIO(bytes.fromhex(scaled))).size == (32, 24)
    assert Image.open(io.BytesIO(bytes.fromhex(said["thumbnail_url"]))).size == (16, 12)
    component = said["component"]
    assert not (storage / "components" / component[:2] / component).exists()


def test_a_file_uploaded_through_one_worker_is_downloaded_through_another(serve, fresh_database, tmp_path):
    if not fresh_database.startswith("postgresql"):
        pytest.skip("several servers on one database: PostgreSQL")
    storage = tmp_path / "shared-storage"
    with Backend.from_url(fresh_database) as backend:
        key = backend.auth.create_key("admin", "two servers")
    headers = {"ftrack-user": "admin", "ftrack-api-key": key, "ftrack-strict-api": "true"}
    data = os.urandom(1024 * 1024 + 3)
    component = str(uuid.uuid4())
    with serve(fresh_database, "--storage", str(storage)) as first, serve(fresh_database, "--storage", str(storage)) as second:
        made = requests.post(f"{first}/api", headers=headers, data=json.dumps([
            {"action": "create", "entity_type": "FileComponent", "entity_key": [component],
             "entity_data": {"id": component, "name": "plate", "file_type": ".bin"}},
            {"action": "get_upload_metadata", "component_id": component, "file_name": "plate.bin",
             "file_size": len(data), "parts": 2, "part_size": PART}]))  # fmt: skip
        assert made.status_code == 200, made.text
        meta = made.json()[1]
        assert meta["urls"][0]["signed_url"].startswith(f"{first}/component/upload?token=")
        # Part 1 through the first server, part 2 through the second: each checks the other's tokens.
        tags = []
        for number, base in ((1, first), (2, second)):
            url = meta["urls"][number - 1]["signed_url"].replace(first, base)
            piece = data[(number - 1) * PART : number * PART]
            response = requests.put(url, data=piece)
            assert response.status_code == 200, response.text
            tags.append({"part_number": number, "e_tag": response.headers["etag"]})
        done = requests.post(f"{second}/api", headers=headers, data=json.dumps([
            {"action": "complete_multipart_upload", "component_id": component, "upload_id": meta["upload_id"],
             "parts": tags}]))  # fmt: skip
        assert done.status_code == 200 and done.json()[0]["size"] == len(data), done.text
        downloaded = requests.get(f"{first}/component/get", params={"id": component}, headers=headers)
        assert downloaded.status_code == 200 and downloaded.content == data
        (signed,) = requests.post(f"{first}/api", headers=headers, data=json.dumps([
            {"action": "generate_signed_url", "component_id": component}])).json()  # fmt: skip
        assert requests.get(signed["signed_url"].replace(first, second)).content == data


def test_a_server_on_postgresql_without_storage_says_which_option_it_needs(serve, fresh_database):
    if not fresh_database.startswith("postgresql"):
        pytest.skip("SQLite has a default folder")
    with Backend.from_url(fresh_database) as backend:
        key = backend.auth.create_key("admin", "no storage")
    headers = {"ftrack-user": "admin", "ftrack-api-key": key}
    component = str(uuid.uuid4())
    with serve(fresh_database) as url:
        made = requests.post(f"{url}/api", headers=headers, data=json.dumps([
            {"action": "create", "entity_type": "FileComponent", "entity_key": [component], "entity_data": {"id": component}}]))
        assert made.status_code == 200, made.text
        answer = requests.post(f"{url}/api", headers=headers, data=json.dumps([
            {"action": "get_upload_metadata", "component_id": component, "file_size": 3}])).json()  # fmt: skip
        assert answer["error_code"] == "no_storage" and "--storage" in answer["content"], answer
        response = requests.get(f"{url}/component/get", params={"id": component}, headers=headers)
        assert response.status_code == 503 and "--storage" in response.json()["content"]
