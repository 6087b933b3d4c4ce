"""Encoding jobs in the engine, in-process: the worker pool's bound, the time limit, and an S3 store.

Real ffmpeg on a movie it makes at test time, a real database (SQLite and PostgreSQL), real
stores (a folder; moto's S3 server for the S3 one).
"""

import os
import shutil
import subprocess
import threading
import time
import uuid

import pytest

from ftrack_like_api.server import Backend

if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI must install ffmpeg (.ci/run does): media encoding is tested with it")
    pytest.skip("media encoding needs ffmpeg and ffprobe (apt-get install ffmpeg)", allow_module_level=True)

SERVER_LOCATION = "3a372bde-05bc-11e4-8908-20c9d081909b"


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    path = tmp_path_factory.mktemp("media") / "plate.mov"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=duration=1:size=64x64:rate=24", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=120)  # fmt: skip
    return path.read_bytes()


def _call(backend, *operations):
    answer = backend.execute(list(operations), "admin")
    assert isinstance(answer, list), answer
    return answer


def _source(backend, data):
    """A component in the server location holding ``data``, as ftrack's client leaves one: its id."""
    component = str(uuid.uuid4())
    _call(backend, {"action": "create", "entity_type": "FileComponent",
                    "entity_data": {"id": component, "name": "plate", "file_type": ".mov", "size": len(data)}},
          {"action": "create", "entity_type": "ComponentLocation",
           "entity_data": {"component_id": component, "location_id": SERVER_LOCATION, "resource_identifier": component}})  # fmt: skip
    backend.files.put("admin", component, [data])
    return component


def _encode(backend, component, keep=True):
    (answer,) = _call(backend, {"action": "encode_media", "component_id": component, "version_id": None,
                                "keep_original": keep})  # fmt: skip
    return answer["job_id"]


def _statuses(backend, jobs):
    expression = f"select status, data from Job where id in ({', '.join(jobs)})"
    return {row["id"]: row for row in _call(backend, {"action": "query", "expression": expression})[0]["data"]}


def _wait(backend, jobs, seen=None):
    for _ in range(1200):
        rows = _statuses(backend, jobs)
        if seen is not None:
            seen.append(sum(row["status"] == "running" for row in rows.values()))
        if all(row["status"] in ("done", "failed") for row in rows.values()):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"the jobs did not end: {rows}")


def test_jobs_wait_for_the_pools_one_worker(database, tmp_path, movie):
    with Backend.from_url(database) as backend:
        backend.files.configure(tmp_path / "storage")
        assert backend.files.media.pool.workers == 1  # FTRACK_LIKE_ENCODE_WORKERS: 1 unless set
        jobs = [_encode(backend, _source(backend, movie)) for _ in range(3)]
        running, threads = [], []
        watcher = threading.Thread(target=lambda: _wait(backend, jobs, running))
        watcher.start()
        while watcher.is_alive():
            threads.append(backend.files.media.pool.threads)
            time.sleep(0.02)
        rows = _statuses(backend, jobs)
    assert [rows[job]["status"] for job in jobs] == ["done"] * 3
    assert max(running) <= 1 and max(threads) <= 1  # one at a time, the others queued


def test_an_encode_over_its_time_limit_fails_and_leaves_nothing(fresh_database, tmp_path, movie):
    with Backend.from_url(fresh_database) as backend:
        backend.files.configure(tmp_path / "storage")
        backend.files.media.timeout = 0.001
        source = _source(backend, movie)
        job = _encode(backend, source, keep=False)
        rows = _wait(backend, [job])
        components = _call(backend, {"action": "query", "expression": "select id from Component"})[0]["data"]
    assert rows[job]["status"] == "failed"
    assert "ran longer than 0.001 s and was stopped" in rows[job]["data"]
    assert [c["id"] for c in components] == [source]  # the source stays (the job failed); no output was made
    stored = {path.name for path in (tmp_path / "storage" / "components").rglob("*") if path.is_file()}
    assert stored == {source}


def test_an_s3_store_encodes_through_a_copy_of_the_source(database, s3_endpoint, movie):
    import json

    import boto3

    from ftrack_like_api.server.files import open_store

    bucket = f"media-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
    with Backend.from_url(database) as backend:
        backend.files.configure(open_store(f"s3://{bucket}/studio"))
        source = _source(backend, movie)
        job = _encode(backend, source)
        rows = _wait(backend, [job])
        assert rows[job]["status"] == "done", rows[job]["data"]
        outputs = json.loads(rows[job]["data"])["output"]
        mp4 = next(o["component_id"] for o in outputs if o["format"] == "video/mp4")
        data = b"".join(backend.files.download("admin", mp4))
    assert data[4:8] == b"ftyp"  # an MP4, kept in the bucket
    listed = boto3.session.Session().client("s3").list_objects_v2(Bucket=bucket, Prefix="studio/components/")
    assert {o["component_id"] for o in outputs} <= {item["Key"].rsplit("/", 1)[-1] for item in listed["Contents"]}


def test_a_server_starting_again_fails_the_jobs_a_stopped_one_left(fresh_database, tmp_path, movie):
    import json
    import sys

    from ftrack_like_api.server.app import create_app, serving
    from ftrack_like_api.server.files.media.recovery import STOPPED, worker_tag

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    machine = worker_tag().split(":")[0]
    storage = tmp_path / "storage"
    try:
        with Backend.from_url(fresh_database) as backend:
            backend.files.configure(storage)
            source = _source(backend, movie)

            def left(worker, status):
                """A job as a server leaves it when it stops mid-way: one output stored, no component made."""
                output = str(uuid.uuid4())
                backend.files.put("admin", output, [b"half an output"])
                data = {"description": "Encoding media", "source_component_id": source, "keep_original": True,
                        "output": [{"format": "video/mp4", "component_id": output}], "worker": worker}  # fmt: skip
                made = _call(backend, {"action": "create", "entity_type": "Job",
                                       "entity_data": {"status": status, "data": json.dumps(data)}})  # fmt: skip
                return made[0]["data"]["id"], output

            stopped = left(f"{machine}:{dead.pid}", "running")
            waiting = left(f"{machine}:{dead.pid}", "queued")
            running = left(f"{machine}:{alive.pid}", "running")  # a server still running on this machine
            elsewhere = left(f"{'0' * 12}:{dead.pid}", "running")  # another machine's: its own server recovers it
            with serving(create_app(backend)):  # a server starts: what the stopped one left is failed
                pass
            rows = _statuses(backend, [job for job, _ in (stopped, waiting, running, elsewhere)])
    finally:
        alive.kill()
        alive.wait()
    stored = {path.name for path in (storage / "components").rglob("*") if path.is_file()}
    for job, output in (stopped, waiting):
        assert rows[job]["status"] == "failed"
        data = json.loads(rows[job]["data"])
        assert data["message"] == STOPPED and data["output"] == [] and data["source_component_id"] == source
        assert output not in stored
    for job, output in (running, elsewhere):
        assert rows[job]["status"] == "running" and output in stored


@pytest.mark.parametrize("over", ["http", "embedded"])
def test_our_client_encodes_into_a_version(database, tmp_path, movie, over, monkeypatch):
    import json

    from ftrack_like_api.server.app import create_app, serving
    from ftrack_like_api.session import Session

    path = tmp_path / "plate.mov"
    path.write_bytes(movie)
    storage = tmp_path / "storage"
    with Backend.from_url(database) as backend:
        backend.files.configure(storage)
        with serving(create_app(backend)) as url:
            if over == "http":
                session = Session(server_url=url, api_user="admin", api_key=backend.auth.create_key("admin", "media"),
                                  schema_cache_path=False)  # fmt: skip
            else:
                monkeypatch.setenv("FTRACK_LIKE_STORAGE", str(storage))
                session = Session(server_url=database, api_user="admin")
            with session:
                name = f"media-{uuid.uuid4().hex[:8]}"
                project = session.create("Project", {"name": name, "full_name": name,
                                                     "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
                shot = session.create("Shot", {"name": "sh010", "parent": project})
                asset = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
                version = session.create("AssetVersion", {"asset": asset})
                session.commit()
                job = version.encode_media(str(path), keep_original=True)
                data = json.loads(job["data"])
                assert data["keep_original"] is True
                for _ in range(1200):
                    job = session.query(f"select status, data from Job where id is {job['id']}").one()
                    if job["status"] in ("done", "failed"):
                        break
                    time.sleep(0.05)
                assert job["status"] == "done", job["data"]
                made = {link["component"]["name"]: link["component"] for link in job["job_components"]}
                assert set(made) == {"ftrackreview-mp4", "ftrackreview-webm", "thumbnail"}
                assert all(component["version"] == version for component in made.values())
                source = session.get("FileComponent", data["source_component_id"])
                assert source is not None and source["version"] == version  # kept, as asked, in the version
                session.populate(version, "thumbnail_id")
                assert version["thumbnail_id"] == made["thumbnail"]["id"]
                location = session.get("Location", SERVER_LOCATION)
                mp4 = location.accessor.open(location.get_resource_identifier(made["ftrackreview-mp4"]), "rb")
                try:
                    assert mp4.read()[4:8] == b"ftyp"
                finally:
                    mp4.close()
                with pytest.raises(ValueError, match="Unable to encode media of type"):
                    session.encode_media(version)
