"""``ftrack-like upload`` and ``ftrack-like download`` against a served ``ftrack-like serve`` and in-process."""

import io
import os
import subprocess

import pytest

from ftrack_like_api import cli
from ftrack_like_api.session import Session
from ftrack_like_api.symbol import SERVER_LOCATION_ID

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

KIB = 1024


@pytest.fixture
def storage(tmp_path, monkeypatch):
    """Files kept in a folder of the test's (the served process inherits FTRACK_LIKE_STORAGE)."""
    folder = tmp_path / "storage"
    monkeypatch.setenv("FTRACK_LIKE_STORAGE", str(folder))
    return folder


@pytest.fixture
def served(database, serve, ftrack_like, storage):
    """(URL, admin's key) of ``ftrack-like serve`` on the module's database."""
    made = subprocess.run([ftrack_like, "key", "create", "--user", "admin", "--name", f"cli-{os.urandom(4).hex()}",
                           "--database", database], capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    key = made.stdout.strip().splitlines()[-1]
    with serve(database) as url:
        yield url, key


def version_in(session):
    project = session.create("Project", {"name": f"p{os.urandom(4).hex()}",
                                         "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    asset = session.create("Asset", {"name": "comp", "parent": shot, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    session.commit()
    return version


def run(ftrack_like, url, key, *arguments):
    environment = {**os.environ, "FTRACK_SERVER": url, "FTRACK_API_USER": "admin", "FTRACK_API_KEY": key}
    return subprocess.run([ftrack_like, *arguments], env=environment, capture_output=True, text=True, timeout=120)


def test_a_file_uploaded_from_the_shell_is_a_component_of_the_version_and_comes_back(served, ftrack_like, tmp_path):
    url, key = served
    session = Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False)
    version = version_in(session)
    data = os.urandom(300 * KIB)
    (tmp_path / "sh010_comp.exr").write_bytes(data)

    uploaded = run(ftrack_like, url, key, "upload", str(tmp_path / "sh010_comp.exr"), "--version", version["id"],
                   "--thumbnail", "--part-size", str(100 * KIB))  # fmt: skip
    assert uploaded.returncode == 0, uploaded.stderr
    component_id = uploaded.stdout.strip().splitlines()[-1]
    component = session.query(f'select name, file_type, size, version_id from FileComponent where id is "{component_id}"').one()
    assert (component["name"], component["file_type"], component["size"]) == ("sh010_comp", ".exr", len(data))
    assert component["version_id"] == version["id"]
    assert session.query(f'ComponentLocation where component_id is "{component_id}" '
                         f'and location_id is "{SERVER_LOCATION_ID}"').one()["resource_identifier"] == component_id  # fmt: skip
    assert session.query(f'select thumbnail_id from AssetVersion where id is "{version["id"]}"').one()["thumbnail_id"] == component_id

    (tmp_path / "out").mkdir()
    downloaded = run(ftrack_like, url, key, "download", component_id, "-o", str(tmp_path / "out"))
    assert downloaded.returncode == 0, downloaded.stderr
    assert downloaded.stdout.strip() == str(tmp_path / "out" / "sh010_comp.exr")
    assert (tmp_path / "out" / "sh010_comp.exr").read_bytes() == data

    again = run(ftrack_like, url, key, "download", component_id, "-o", str(tmp_path / "out"))
    assert again.returncode == 1 and "exists: --force replaces it" in again.stderr


def test_a_cut_transfer_is_finished_from_the_shell(served, ftrack_like, tmp_path):
    url, key = served
    session = Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False)
    version = version_in(session)
    data = os.urandom(8 * 64 * KIB)
    source = tmp_path / "plate.exr"
    source.write_bytes(data)
    component = session.create("FileComponent", {"name": "plate", "file_type": ".exr", "size": len(data),
                                                 "version_id": version["id"]})  # fmt: skip
    session.commit()

    def cut_at_half(done, total):
        if done > total // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        session.transport.files().upload(component["id"], "plate.exr", source, part_size=64 * KIB, parallel=1,
                                         progress=cut_at_half)  # fmt: skip
    finished = run(ftrack_like, url, key, "upload", str(source), "--version", version["id"], "--component",
                   component["id"], "--part-size", str(64 * KIB))  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == component["id"]

    partial = tmp_path / "plate.exr.part"  # what a cut download leaves: the rest is asked for with Range
    partial.write_bytes(data[:1000])
    target = tmp_path / "plate.exr"
    target.unlink()
    downloaded = run(ftrack_like, url, key, "download", component["id"], "-o", str(target))
    assert downloaded.returncode == 0, downloaded.stderr
    assert target.read_bytes() == data and not partial.exists()


def test_in_process_on_a_database(database, storage, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FTRACK_SERVER", raising=False)
    monkeypatch.delenv("FTRACK_API_USER", raising=False)
    with Session(server_url=database, api_user="admin", schema_cache_path=False) as session:
        version = version_in(session)
    (tmp_path / "notes.txt").write_bytes(b"line one\n")
    assert cli.main(["upload", str(tmp_path / "notes.txt"), "--version", version["id"], "--database", database]) == 0
    component_id = capsys.readouterr().out.strip().splitlines()[-1]
    assert cli.main(["download", component_id, "-o", str(tmp_path / "back.txt"), "--database", database]) == 0
    assert (tmp_path / "back.txt").read_bytes() == b"line one\n"
    with Session(server_url=database, api_user="admin", schema_cache_path=False) as session:
        out = io.BytesIO()
        session.transport.files().download(component_id, out)
        assert out.getvalue() == b"line one\n"


def test_an_unknown_version_is_one_clear_line(database, storage, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FTRACK_SERVER", raising=False)
    (tmp_path / "x.bin").write_bytes(b"x")
    assert cli.main(["upload", str(tmp_path / "x.bin"), "--version", "nope", "--database", database]) == 1
    studio, error = capsys.readouterr().err.strip().splitlines()
    assert studio == f"studio: {database} as admin" and error == "error: No AssetVersion nope (or you may not see it)"
