"""The official client's ``encode_media`` against our server: real ffmpeg, real files, both databases.

A one-second movie and a still image are made by ffmpeg at test time. The official
ftrack-python-api client (a venv of its own: ``official_python``) encodes the movie from a
path and the image from a component in ``ftrack.server`` into a version, polls each job to
``done``, and downloads every output through ``location.get_url``; ffprobe then plays each
download. A file that is no movie gives a ``failed`` job saying why, with no component left;
a user who cannot see a version's project cannot encode into it.
"""

import json
import os
import shutil
import subprocess
import textwrap
import time

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.demo import serving  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must install ffmpeg (.ci/run does): media encoding is tested with it")
    pytest.skip("media encoding needs ffmpeg and ffprobe (apt-get install ffmpeg)", allow_module_level=True)

SERVER_LOCATION = "3a372bde-05bc-11e4-8908-20c9d081909b"
ENCODE = textwrap.dedent(
    """
    import json, os, sys, time
    import ftrack_api
    import requests

    server, user, key, movie, image, broken, out = sys.argv[1:8]
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key,
                                 auto_connect_event_hub=False, schema_cache_path=False)
    location = session.query('Location where name is "ftrack.server"').one()
    name = "media-" + os.path.basename(out)
    project = session.create("Project", {"name": name, "full_name": name,
                                         "project_schema": session.query("ProjectSchema").first()})
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    asset = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    session.commit()

    def wait(job):
        seen = [job["status"]]
        for _ in range(1200):
            job = session.query("select status, data, finished_at from Job where id is '{}'".format(job["id"])).one()
            if job["status"] != seen[-1]:
                seen.append(job["status"])
            if job["status"] in ("done", "failed"):
                return job, seen
            time.sleep(0.1)
        raise RuntimeError("the job did not end: " + job["status"])

    def outputs(job):
        found = []
        for link in job["job_components"]:                     # as ftrack's example: get_url of each
            component = link["component"]
            target = os.path.join(out, component["id"] + component["file_type"])
            with open(target, "wb") as file:
                file.write(requests.get(location.get_url(link)).content)
            found.append({"id": component["id"], "name": component["name"], "file_type": component["file_type"],
                          "size": component["size"], "version_id": component["version_id"],
                          "ftr_meta": component["metadata"].get("ftr_meta"), "path": target})
        return found

    said = {}
    job = session.encode_media(movie)                          # a path: uploaded, then encoded
    said["path_answer"] = [job.entity_type, json.loads(job["data"])]
    job, said["path_seen"] = wait(job)
    said["path_data"] = json.loads(job["data"])
    said["path_outputs"] = outputs(job)
    said["source_left"] = session.query(
        "FileComponent where id is '{}'".format(said["path_data"]["source_component_id"])).first() is not None

    still = session.create_component(image, data={"name": "still"}, location=location)
    session.commit()
    job = version.encode_media(still)                          # a component in ftrack.server, into the version
    job, said["component_seen"] = wait(job)
    said["component_data"] = json.loads(job["data"])
    said["component_outputs"] = outputs(job)
    said["still_left"] = session.query("FileComponent where id is '{}'".format(still["id"])).first() is not None
    said["thumbnail_id"] = session.query(
        "select thumbnail_id from AssetVersion where id is '{}'".format(version["id"])).one()["thumbnail_id"]
    said["version_id"] = version["id"]

    job = session.encode_media(broken)
    job, said["broken_seen"] = wait(job)
    said["broken_data"] = json.loads(job["data"])
    said["broken_links"] = len(job["job_components"])
    print(json.dumps(said))
    """
)
REFUSED = textwrap.dedent(
    """
    import json, sys
    import ftrack_api

    server, user, key, movie, mine, version_id = sys.argv[1:7]
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key,
                                 auto_connect_event_hub=False, schema_cache_path=False)
    location = session.query('Location where name is "ftrack.server"').one()
    component = session.create_component(movie, data={"version_id": mine}, location=location)
    session.commit()
    try:
        session.encode_media(component, version_id=version_id)
        print(json.dumps({"refused": None}))
    except ftrack_api.exception.ServerError as error:
        print(json.dumps({"refused": str(error)}))
    """
)


def _ffmpeg(*arguments):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments], check=True, timeout=120)


def _probe(path):
    said = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-print_format", "json", "-show_streams",
                           "-show_format", path], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert said.returncode == 0, said.stderr
    return json.loads(said.stdout)


@pytest.fixture
def media(tmp_path):
    movie, image, broken = tmp_path / "plate.mov", tmp_path / "still.png", tmp_path / "broken.mov"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=64x64:rate=24", "-pix_fmt", "yuv420p", str(movie))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x48", "-frames:v", "1", str(image))
    broken.write_bytes(b"this is no movie, whatever its name says\n" * 100)
    return str(movie), str(image), str(broken)


def test_the_official_client_encodes_media_for_review(official_python, database, tmp_path, media):
    out = tmp_path / "downloads"
    out.mkdir()
    with Backend.from_url(database) as backend:
        backend.files.configure(tmp_path / "storage")
        with serving(backend) as url:
            key = backend.auth.create_key("admin", "media")
            run = subprocess.run([official_python, "-c", ENCODE, url, "admin", key, *media, str(out)],
                                 capture_output=True, text=True, timeout=600)  # fmt: skip
            assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    # What encode_media answers at once: a Job, its data naming the outputs to come (ftrack's shape).
    kind, data = said["path_answer"]
    assert kind == "Job" and data["keep_original"] is False
    assert [o["format"] for o in data["output"]] == ["video/mp4", "video/webm", "image/jpeg"]
    assert said["path_seen"][-1] == "done" and set(said["path_seen"]) <= {"queued", "running", "done"}
    assert said["path_data"]["output"] == data["output"] and not said["source_left"]
    made = {o["name"]: o for o in said["path_outputs"]}
    assert set(made) == {"ftrackreview-mp4", "ftrackreview-webm", "thumbnail"}
    assert {o["id"] for o in said["path_outputs"]} == {o["component_id"] for o in data["output"]}
    for name, codec, container in (("ftrackreview-mp4", "h264", "mov,mp4"), ("ftrackreview-webm", "vp8", "webm")):
        output = made[name]
        assert json.loads(output["ftr_meta"]) == {"frameIn": 0, "frameOut": 24, "frameRate": 24, "width": 64, "height": 64}
        probed = _probe(output["path"])
        (stream,) = probed["streams"]
        assert stream["codec_name"] == codec and container in probed["format"]["format_name"]
        assert int(stream["nb_read_frames"]) == 24 and os.path.getsize(output["path"]) == output["size"]
        assert output["version_id"] is None
    thumbnail = _probe(made["thumbnail"]["path"])["streams"][0]
    assert (thumbnail["codec_name"], thumbnail["width"], thumbnail["height"]) == ("mjpeg", 64, 64)
    assert made["thumbnail"]["ftr_meta"] is None
    # An image already in ftrack.server, encoded into a version: kept, linked, the thumbnail set.
    assert said["component_seen"][-1] == "done" and said["component_data"]["keep_original"] is True
    assert said["still_left"]
    made = {o["name"]: o for o in said["component_outputs"]}
    assert set(made) == {"ftrackreview-image", "thumbnail"}
    assert json.loads(made["ftrackreview-image"]["ftr_meta"]) == {"format": "image", "width": 96, "height": 48}
    assert all(o["version_id"] == said["version_id"] for o in made.values())
    assert said["thumbnail_id"] == made["thumbnail"]["id"]
    image = _probe(made["ftrackreview-image"]["path"])["streams"][0]
    assert (image["codec_name"], image["width"], image["height"]) == ("mjpeg", 96, 48)
    # No movie: the job fails saying why (ffprobe's own words), and leaves no component.
    assert said["broken_seen"][-1] == "failed"
    broken = said["broken_data"]
    assert broken["output"] == [] and broken["message"].startswith("Encoding failed: ")
    assert "the source file: Invalid data found when processing input" in broken["message"]
    assert "components" not in broken["message"]  # ffmpeg's words, without the server's own paths
    assert said["broken_links"] == 0
    with Backend.from_url(database) as backend:
        names = backend.execute([{"action": "query", "expression": "select name from FileComponent where name like "
                                  "'ftrackreview%'"}], "admin")[0]["data"]  # fmt: skip
    assert len(names) == 3  # the movie's two and the image's one: none of the broken file's


def test_a_user_cannot_encode_into_a_version_they_cannot_see(official_python, fresh_database, tmp_path, media):
    with Backend.from_url(fresh_database) as backend:
        backend.files.configure(tmp_path / "storage")
        admin = lambda *operations: backend.execute(list(operations), "admin")  # noqa: E731
        schema = admin({"action": "query", "expression": "ProjectSchema"})[0]["data"][0]["id"]
        made = {}
        for name in ("open", "secret"):
            project = admin({"action": "create", "entity_type": "Project",
                             "entity_data": {"name": name, "full_name": name, "project_schema_id": schema}})[0]["data"]
            shot = admin({"action": "create", "entity_type": "Shot", "entity_data": {"name": "sh", "parent_id": project["id"]}})
            asset_type = admin({"action": "query", "expression": "AssetType limit 1"})[0]["data"][0]["id"]
            asset = admin({"action": "create", "entity_type": "Asset", "entity_data": {
                "name": "plate", "context_id": shot[0]["data"]["id"], "type_id": asset_type}})[0]["data"]  # fmt: skip
            made[name] = admin({"action": "create", "entity_type": "AssetVersion",
                                "entity_data": {"asset_id": asset["id"]}})[0]["data"]["id"]  # fmt: skip
        admin({"action": "create", "entity_type": "User", "entity_data": {"username": "free"}})
        backend.auth.grant("free", "open")
        with serving(backend) as url:
            key = backend.auth.create_key("free", "media")
            said = {}
            for name in ("secret", "open"):
                run = subprocess.run([official_python, "-c", REFUSED, url, "free", key, media[0], made["open"], made[name]],
                                     capture_output=True, text=True, timeout=300)  # fmt: skip
                assert run.returncode == 0, run.stderr[-3000:]
                said[name] = json.loads(run.stdout.strip().splitlines()[-1])["refused"]
            for _ in range(600):  # the accepted job ends before the server does
                jobs = admin({"action": "query", "expression": "select status from Job"})[0]["data"]
                if all(job["status"] in ("done", "failed") for job in jobs):
                    break
                time.sleep(0.1)
    assert said["secret"] is not None and f"No AssetVersion with id {made['secret']}" in said["secret"]
    assert said["open"] is None
    assert [job["status"] for job in jobs] == ["done"]  # the one into the open project: the refused request made none
