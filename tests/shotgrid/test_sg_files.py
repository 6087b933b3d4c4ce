"""``upload`` of files other than thumbnails and ``download_attachment``, through shotgun_api3 unchanged.

A file uploaded to a Version's ``sg_uploaded_movie`` is an Attachment (a component of ours in
the server location, on the version): the field reads it with a signed link the client
downloads; ``/file_serve/attachment/<id>`` serves it to the ``_session_id`` cookie ShotGrid's
client signs in with. On SQLite and PostgreSQL (``ftrack-like serve`` on 127.0.0.1).
"""

import json
import subprocess
import textwrap
import urllib.error
import urllib.request

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

FILES = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key, path, odd = sys.argv[1:5]
    sg = shotgun_api3.Shotgun(url, script_name="files", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Files"})
    version = sg.create("Version", {"project": project, "code": "v001"})
    attachment = sg.upload("Version", version["id"], path, "sg_uploaded_movie", tag_list="monkeys, everywhere")
    said["attachment"] = attachment
    movie = sg.find_one("Version", [["id", "is", version["id"]]], ["sg_uploaded_movie"])["sg_uploaded_movie"]
    said["movie"] = {k: v for k, v in movie.items() if k != "url"}
    said["downloaded"] = sg.download_attachment(movie).hex()
    said["saved"] = open(sg.download_attachment(movie, file_path=path + ".copy"), "rb").read().hex()
    said["record"] = sg.find_one("Attachment", [["id", "is", attachment]],
                                 ["display_name", "file_size", "file_extension", "tag_list"])
    said["odd"] = sg.upload("Version", version["id"], odd, "sg_uploaded_movie")  # a name that is not ASCII
    said["odd_name"] = sg.find_one("Version", [["id", "is", version["id"]]], ["sg_uploaded_movie"])["sg_uploaded_movie"]["name"]
    said["session"] = sg.get_session_token()
    task = sg.create("Task", {"project": project, "content": "comp"})
    said["thumbnail"] = sg.upload("Task", task["id"], path, "image")
    said["filmstrip"] = sg.upload("Task", task["id"], path, "filmstrip_image")
    said["filmstrip_read"] = sg.find_one("Task", [["id", "is", task["id"]]], ["filmstrip_image"])["filmstrip_image"]["id"]
    for name, call in {
        "not_a_file_field": lambda: sg.upload("Version", version["id"], path, "code"),
        "no_entity": lambda: sg.upload("Version", 999999, path, "sg_uploaded_movie"),
        "set_by_hand": lambda: sg.update("Version", version["id"], {"sg_uploaded_movie": {"url": "http://x"}}),
    }.items():
        try:
            call()
        except (shotgun_api3.ShotgunError, shotgun_api3.Fault) as error:
            said[name] = str(error)
    sg.update("Version", version["id"], {"sg_uploaded_movie": None})
    said["cleared"] = sg.find_one("Version", [["id", "is", version["id"]]], ["sg_uploaded_movie"])["sg_uploaded_movie"]
    print(json.dumps(said))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "files")
    return database, key


def test_uploads_and_downloads_through_shotgun_api3(shotgun_python, studio, serve, tmp_path):
    database, key = studio
    path, odd = tmp_path / "plate.mov", tmp_path / "Noël ご.mov"
    path.write_bytes(b"\x00\x01movie bytes" * 500)
    odd.write_bytes(b"another")
    options = ("--storage", str(tmp_path / "files"))
    with serve(database, *options) as url:
        run = subprocess.run([shotgun_python, "-c", FILES, url, key, str(path), str(odd)], capture_output=True, text=True,
                             timeout=600)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        said = json.loads(run.stdout.strip().splitlines()[-1])
        served = f"{url}/file_serve/attachment/{said['attachment']}"
        cookie = {"Cookie": f"_session_id={said['session']}"}
        assert urllib.request.urlopen(urllib.request.Request(served, headers=cookie)).read() == path.read_bytes()
        for headers, status in (({}, 401), ({"Cookie": "_session_id=wrong"}, 401)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(served, headers=headers))
            assert refused.value.code == status
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(urllib.request.Request(f"{url}/file_serve/attachment/999999", headers=cookie))
        assert missing.value.code == 404
    assert said["movie"] == {"type": "Attachment", "id": said["attachment"], "name": "plate.mov",
                             "content_type": "video/quicktime", "link_type": "upload"}  # fmt: skip
    assert bytes.fromhex(said["downloaded"]) == bytes.fromhex(said["saved"]) == path.read_bytes()
    assert said["record"] == {"type": "Attachment", "id": said["attachment"], "display_name": "plate",
                              "file_size": path.stat().st_size, "file_extension": ".mov",
                              "tag_list": ["monkeys", "everywhere"]}  # fmt: skip
    assert said["odd_name"] == "Noël ご.mov"
    assert isinstance(said["thumbnail"], int) and said["filmstrip_read"] == said["filmstrip"] != said["thumbnail"]
    assert "Version.code is not a file field" in said["not_a_file_field"]
    assert "Version with id 999999 doesn't exist" in said["no_entity"]
    assert "set by upload" in said["set_by_hand"]
    assert said["cleared"] is None
    with Backend.from_url(database) as backend:  # the same files through our own protocol: the version's components
        answer = backend.execute([{"action": "query", "expression": 'select name, file_type, size, version.id, '
                                   'component_locations.location.name from FileComponent where name is "plate" and version_id != None'}],
                                 "admin")  # fmt: skip
        (row,) = answer[0]["data"]
        assert row["size"] == path.stat().st_size and row["version"] is not None


BY_ID = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, ported, key, path = sys.argv[1:5]
    sg = shotgun_api3.Shotgun(url, script_name="files", api_key=key)
    project = sg.create("Project", {"name": "Files by id"})
    version = sg.create("Version", {"project": project, "code": "v001"})
    attachment = sg.upload("Version", version["id"], path, "sg_uploaded_movie")
    said = {"by_id": sg.download_attachment(attachment).hex(),
            "by_keyword": sg.download_attachment(attachment_id=attachment).hex(),
            "to_disk": open(sg.download_attachment(attachment, file_path=path + ".copy"), "rb").read().hex()}
    try:  # the same server named with its port: the client's cookie jar keeps the cookie back
        shotgun_api3.Shotgun(ported, script_name="files", api_key=key).download_attachment(attachment)
    except shotgun_api3.ShotgunFileDownloadError as error:
        said["with_port"] = str(error)
    print(json.dumps(said))
    """
)


def test_a_download_by_bare_attachment_id_signs_in_with_the_cookie_at_a_url_without_a_port(shotgun_python, studio, serve,
                                                                                          tmp_path):  # fmt: skip
    """``download_attachment(id)`` sends the ``_session_id`` cookie for the host of the server's URL — which
    Python's cookie jar matches against the request's host *without* its port: the cookie reaches a
    server named without a port (ShotGrid's sites, or this server on port 80 or behind a proxy), never
    ``127.0.0.1:<port>``. So the server is served on port 80 here, when this machine lets a test bind it."""
    import socket

    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed one's port is free
    try:
        probe.bind(("127.0.0.1", 80))
    except OSError as error:
        pytest.skip(f"port 80 of 127.0.0.1 cannot be bound here ({error}): the cookie needs a URL without a port")
    finally:
        probe.close()
    database, key = studio
    path = tmp_path / "plate.mov"
    path.write_bytes(b"\x00\x02by id" * 300)
    with serve(database, "--storage", str(tmp_path / "files"), port=80):
        run = subprocess.run([shotgun_python, "-c", BY_ID, "http://127.0.0.1", "http://127.0.0.1:80", key, str(path)],
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert bytes.fromhex(said["by_id"]) == bytes.fromhex(said["by_keyword"]) == bytes.fromhex(said["to_disk"]) == path.read_bytes()
    assert "HTTP Error 401" in said["with_port"]  # no cookie sent: refused, as any request without credentials
