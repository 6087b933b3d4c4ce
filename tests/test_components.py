"""Components in the server location: over HTTP to a served app and in the embedded mode, on both databases.

Real files on disk, a real server keeping them in a folder or in S3 (moto's server); bytes come
back as they went.
"""

import io
import os
import pathlib
import uuid

import pytest
import requests

from ftrack_like_api.accessor.disk import DiskAccessor
from ftrack_like_api.exceptions import AccessorUnsupportedOperationError, LocationError
from ftrack_like_api.session import Session
from ftrack_like_api.server.files.stores import store_for
from ftrack_like_api.structure import StandardStructure
from ftrack_like_api.symbol import ORIGIN_LOCATION_ID, SERVER_LOCATION_ID

#: Minutes long: started first when the suite runs on several workers (tests/conftest.py).
pytestmark = pytest.mark.long

pytest.importorskip("sqlalchemy", reason="the server extra is not installed")


@pytest.fixture(scope="module", params=["folder", "s3"])
def storage(request, tmp_path_factory):
    """Where the server keeps the files: a folder, or a bucket of a real S3-compatible server (moto's)."""
    if request.param == "folder":
        return str(tmp_path_factory.mktemp("storage"))
    import boto3

    request.getfixturevalue("s3_endpoint")
    bucket = f"components-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
    return f"s3://{bucket}/studio"


@pytest.fixture(scope="module")
def served(database, storage):
    """The real app on the module's database, keeping files in ``storage``, on 127.0.0.1: (URL, an admin key)."""
    from ftrack_like_api.server import Backend
    from ftrack_like_api.server.app import create_app, serving

    backend = Backend.from_url(database)
    backend.files.configure(storage)
    with serving(create_app(backend)) as url:
        yield url, backend.auth.create_key("admin", "components")
    backend.close()


@pytest.fixture(params=["http", "embedded"])
def session(request, served, database, storage, monkeypatch):
    """A session over HTTP, or embedded on the same database and storage."""
    if request.param == "http":
        url, key = served
        made = Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False)
    else:
        monkeypatch.setenv("FTRACK_LIKE_STORAGE", str(storage))
        made = Session(server_url=database, api_user="admin")
    with made:
        yield made


def read_back(location, component):
    data = location.accessor.open(location.get_resource_identifier(component), "rb")
    try:
        return data.read()
    finally:
        data.close()


def stored(storage, component_id):
    """Whether the server's storage holds a file for the component."""
    return store_for(storage).size(component_id) is not None


def fetch(url):
    """The bytes a link gives: over HTTP, or a file:// link in the embedded mode."""
    if url.startswith("file://"):
        with open(url[len("file://"):], "rb") as stored:
            return stored.read()
    answer = requests.get(url, timeout=30)
    answer.raise_for_status()
    return answer.content


def test_a_file_up_and_back_byte_for_byte(session, version, tmp_path, storage):
    source = tmp_path / "plate.mov"
    source.write_bytes(os.urandom(300_000))
    server = session.get("Location", SERVER_LOCATION_ID)
    component = session.create_component(str(source), {"version": version, "name": "main"}, location=server)
    assert session.get_component_availability(component)[SERVER_LOCATION_ID] == 100.0
    assert server.get_resource_identifier(component) == component["id"]
    assert read_back(server, component) == source.read_bytes()
    url = server.get_url(component)
    assert session.api_key is None or session.api_key not in url  # a signed link, no secret in it
    assert fetch(url) == source.read_bytes()
    assert stored(storage, component["id"])
    server.remove_component(component)
    assert session.get_component_availability(component)[SERVER_LOCATION_ID] == 0.0
    assert not stored(storage, component["id"])


def test_a_sequence_and_a_folder_in_the_server_location(session, version, tmp_path):
    frames = {}
    for frame in (1, 2, 3):
        path = tmp_path / f"beauty.{frame:04d}.exr"
        path.write_bytes(os.urandom(1000 + frame))
        frames[f"{frame:04d}"] = path.read_bytes()
    server = session.get("Location", SERVER_LOCATION_ID)
    sequence = session.create_component(f"{tmp_path}/beauty.%04d.exr [1-3]", {"version": version, "name": "beauty"},
                                        location=server)  # fmt: skip
    assert session.get_component_availability(sequence)[SERVER_LOCATION_ID] == 100.0
    assert {member["name"]: read_back(server, member) for member in sequence["members"]} == frames
    folder = tmp_path / "review"
    folder.mkdir()
    (folder / "notes.txt").write_text("ok")
    container = session.create_component(str(folder), {"version": version}, location=server)
    assert [read_back(server, member) for member in container["members"]] == [b"ok"]
    server.remove_component(sequence)
    assert session.get_component_availability(sequence)[SERVER_LOCATION_ID] == 0.0


HOSTILE = ["...", "-rf", "a b.txt", "new\nline.txt", "é.exr", "x" * 200 + ".bin", ".hidden", "$(id).sh",
           "back\\slash", "CON.txt", "%04d.exr", "*?.txt", "..txt"]


def tree_of(root):
    """{relative path: bytes} of every file under ``root``, and the relative paths of its folders."""
    files = {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}
    return files, sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_dir())


def test_a_folder_tree_with_hostile_names_goes_up_and_comes_back_the_same(session, version, tmp_path, storage):
    source = tmp_path / "delivery"
    deep = source.joinpath(*["level"] * 40)
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_bytes(b"deep")
    for name in HOSTILE:
        (source / name).write_bytes(os.urandom(100) + name.encode())
    (source / "..dots").mkdir()  # a folder with a hostile name, holding files with hostile names too
    for name in HOSTILE[:5]:
        (source / "..dots" / name).write_bytes(name.encode())
    (source / "empty").mkdir()
    server = session.get("Location", SERVER_LOCATION_ID)
    top = session.create_component(str(source), {"version": version}, location=server)
    assert top["size"] == sum(len(data) for data in tree_of(source)[0].values())
    assert session.get_component_availability(top)[SERVER_LOCATION_ID] == 100.0

    def uploaded(container, prefix=""):
        found = {}
        for member in container["members"]:
            name = f"{prefix}{member['name']}{member['file_type'] or ''}"
            if member.entity_type == "ContainerComponent":
                found.update(uploaded(member, f"{name}/"))
            else:
                found[name] = read_back(server, member)
        return found

    assert uploaded(top) == tree_of(source)[0]
    # Back down onto a disk whose structure keeps names as they are: the same tree, byte for byte.
    disk = session.ensure("Location", {"name": f"disk{uuid.uuid4().hex[:6]}"})
    disk.accessor = DiskAccessor(tmp_path / "disk")
    disk.structure, disk.priority = StandardStructure(illegal_character_substitute=None), 5
    disk.add_component(top, server)
    assert tree_of(pathlib.Path(disk.get_filesystem_path(top))) == tree_of(source)
    server.remove_component(top)
    assert not any(stored(storage, member["id"]) for member in top["members"] if member.entity_type == "FileComponent")


def test_a_failed_upload_leaves_nothing_stored(session, version, tmp_path, storage):
    for frame in (1, 2):
        (tmp_path / f"f.{frame}.exr").write_bytes(b"x" * 100)
    server = session.get("Location", SERVER_LOCATION_ID)
    sequence = session.create_component(f"{tmp_path}/f.%d.exr [1-3]", {"version": version, "name": "f"}, location=None)
    members = list(sequence["members"])
    with pytest.raises(LocationError, match=r"f\.3\.exr"):
        server.add_component(sequence, session.get("Location", ORIGIN_LOCATION_ID))
    assert session.get_component_availability(sequence)[SERVER_LOCATION_ID] == 0.0
    # The frames uploaded before the missing one were removed again.
    assert [stored(storage, member["id"]) for member in members] == [False, False, False]


def test_from_the_studio_disk_to_the_server_and_back(session, version, tmp_path):
    disk = session.ensure("Location", {"name": f"disk{uuid.uuid4().hex[:6]}"})
    disk.accessor, disk.structure, disk.priority = DiskAccessor(tmp_path / "disk"), StandardStructure(), 5
    source = tmp_path / "plate.exr"
    source.write_bytes(os.urandom(50_000))
    component = session.create_component(str(source), {"version": version, "name": "main"}, location=disk)
    server = session.get("Location", SERVER_LOCATION_ID)
    server.add_component(component, disk)
    assert read_back(server, component) == source.read_bytes()
    disk.remove_component(component)
    assert session.pick_location(component) is server
    disk.add_component(component, server)  # downloaded from the server onto the disk again
    assert pathlib.Path(disk.get_filesystem_path(component)).read_bytes() == source.read_bytes()
    assert [location["name"] for location in session.get_component_locations(component)] == [disk["name"], "ftrack.server"]


def test_a_thumbnail_for_a_shot(session, version, tmp_path):
    image_module = pytest.importorskip("PIL.Image", reason="thumbnails are scaled by Pillow (the server extra)")
    image = tmp_path / "thumb.jpg"
    image_module.new("RGB", (400, 200), (200, 30, 30)).save(image)
    shot = version["asset"]["parent"]
    component = shot.create_thumbnail(str(image))
    assert component["name"] == "thumbnail" and shot["thumbnail_id"] == component["id"]
    server = session.get("Location", SERVER_LOCATION_ID)
    assert read_back(server, component) == image.read_bytes()
    with Session(server_url=session.server_url, api_user="admin", api_key=session.api_key, schema_cache_path=False) as other:
        assert other.query("select thumbnail_id from Shot where id is :s", s=shot["id"]).one()["thumbnail_id"] == component["id"]
    if not session.server_url.startswith("http"):
        with pytest.raises(AccessorUnsupportedOperationError):  # a file:// link has no scaled images
            server.get_thumbnail_url(component, size=64)
        return
    url = server.get_thumbnail_url(component, size=64)
    assert "/component/thumbnail?" in url and "token=" in url and session.api_key not in url
    scaled = image_module.open(io.BytesIO(fetch(url)))
    assert max(scaled.size) == 64 and scaled.size == (64, 32)


def test_uploads_report_their_progress(session, version, tmp_path):
    source = tmp_path / "plate.mov"
    source.write_bytes(os.urandom(200_000))
    server = session.get("Location", SERVER_LOCATION_ID)
    reported = []
    server.accessor.progress = lambda done, total: reported.append((done, total))
    session.create_component(str(source), {"version": version, "name": "main"}, location=server)
    assert reported and reported[-1] == (200_000, 200_000)
    assert [done for done, _ in reported] == sorted(done for done, _ in reported)


def test_get_upload_metadata_as_ftracks_client_uses_it(served, version, tmp_path, storage):
    url, key = served
    with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
        component = session.create("FileComponent", {"name": "main", "file_type": ".bin", "version_id": version["id"]})
        session.commit()
        body = os.urandom(10_000)
        metadata = session.get_upload_metadata(component["id"], "main.bin", len(body))
        # The server's upload URL, or the store's presigned one (S3: the bytes never pass the server).
        assert metadata["url"].startswith(os.environ["AWS_ENDPOINT_URL"] if storage.startswith("s3://") else url)
        assert key not in metadata["url"]
        requests.put(metadata["url"], data=body, headers=metadata["headers"], timeout=30).raise_for_status()
        session.create("ComponentLocation", {"component": component, "location_id": SERVER_LOCATION_ID,
                                             "resource_identifier": component["id"]})  # fmt: skip
        session.commit()
        assert read_back(session.get("Location", SERVER_LOCATION_ID), component) == body
