"""Locations on a real database and real files: set-up through plugins, adding all or nothing, removing, finding.

The location plugin under test is plugins/locations/studio_disk.py, written for ftrack's
client with its import changed; the how-to's example runs as it stands.
"""

import os
import pathlib
import re
import subprocess
import sys
import textwrap
import uuid

import pytest

import ftrack_like_api as ftrack_api
from ftrack_like_api.accessor.disk import DiskAccessor
from ftrack_like_api.exceptions import ComponentInLocationError, ComponentNotInLocationError, LocationError
from ftrack_like_api.session import Session
from ftrack_like_api.structure import IdStructure, OriginStructure, StandardStructure
from ftrack_like_api.symbol import (
    COMPONENT_ADDED_TO_LOCATION_TOPIC,
    ORIGIN_LOCATION_ID,
    REVIEW_LOCATION_ID,
    SERVER_LOCATION_ID,
    UNMANAGED_LOCATION_ID,
)

pytest.importorskip("sqlalchemy", reason="the embedded mode needs the server extra")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "locations" / "studio_disk.py"
HOWTO = ROOT / "docs" / "howto" / "locations.rst"


@pytest.fixture
def disk(tmp_path, monkeypatch):
    """The studio disk of the plugin: a folder of this test."""
    root = tmp_path / "projects"
    monkeypatch.setenv("STUDIO_DISK", str(root))
    return root


@pytest.fixture
def session(database, disk):
    with Session(server_url=database, api_user="admin", plugin_paths=[str(PLUGIN)]) as session:
        yield session


@pytest.fixture
def renders(tmp_path):
    folder = tmp_path / "renders"
    folder.mkdir()
    for frame in range(1001, 1004):
        (folder / f"sh010.{frame}.exr").write_bytes(os.urandom(2000))
    (folder / "plate.mov").write_bytes(os.urandom(5000))
    return folder


def files_under(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_the_built_in_locations_are_set_up_as_ftracks(database):
    with Session(server_url=database, api_user="admin") as session:
        keys = (ORIGIN_LOCATION_ID, UNMANAGED_LOCATION_ID, REVIEW_LOCATION_ID, SERVER_LOCATION_ID)
        origin, unmanaged, review, server = (session.get("Location", key) for key in keys)
        assert [(location["name"], location.priority) for location in (origin, unmanaged, review, server)] == [
            ("ftrack.origin", 100), ("ftrack.unmanaged", 90), ("ftrack.review", 110), ("ftrack.server", 150)]
        assert isinstance(origin, ftrack_api.entity.location.OriginLocationMixin)
        assert isinstance(unmanaged, ftrack_api.entity.location.UnmanagedLocationMixin)
        assert isinstance(server, ftrack_api.entity.location.ServerLocationMixin)
        assert isinstance(unmanaged.accessor, DiskAccessor) and isinstance(unmanaged.structure, OriginStructure)
        assert type(server.accessor).__name__ == "ServerAccessor"
        connect = session.query('Location where name is "ftrack.connect"').one()
        assert not connect.accessor and connect.priority == 95  # known, out of reach
        # With no plugin, a new component goes where it is: the unmanaged location.
        assert session.pick_location() is unmanaged


def test_locations_are_set_up_once_on_first_use(database):
    calls = []
    with Session(server_url=database, api_user="admin") as session:
        session.event_hub.subscribe("topic=ftrack.api.session.configure-location", calls.append)
        session.query("Project").all()
        assert calls == []  # nothing until a location is used
        assert session.pick_location() is not None
        session.pick_location()
        assert [event["data"]["session"] for event in calls] == [session]
        session.reset()
        assert callable(session.get("Location", SERVER_LOCATION_ID).get_thumbnail_url)  # a mixin's method: set up again
        assert len(calls) == 2


def test_a_location_plugin_written_for_ftrack_publishes_to_the_studio_disk(session, version, renders, disk, database):
    component = session.create_component(str(renders / "plate.mov"), {"version": version, "name": "main"})
    location = session.pick_location(component)
    assert location["name"] == "studio.disk" and location.priority == 1
    project = version["link"][0]["name"]
    expected = f"{project}/sh010/plate/v001/main.mov"
    assert location.get_resource_identifier(component) == expected
    assert files_under(disk) == [expected]
    assert (disk / expected).read_bytes() == (renders / "plate.mov").read_bytes()
    assert component["size"] == 5000 and component["file_type"] == ".mov"
    # Another session, with the same plugin, finds it.
    with Session(server_url=database, api_user="admin", plugin_paths=[str(PLUGIN)]) as elsewhere:
        found = elsewhere.get("Component", component["id"])
        assert elsewhere.pick_location(found)["name"] == "studio.disk"
        assert elsewhere.pick_location(found).get_filesystem_path(found) == str(disk / expected)
        assert [loc["name"] for loc in elsewhere.get_component_locations(found)] == ["studio.disk"]
    # A session without the plugin knows it is there, and cannot reach it.
    with Session(server_url=database, api_user="admin") as without:
        found = without.get("Component", component["id"])
        assert without.pick_location(found) is None
        studio = without.query('Location where name is "studio.disk"').one()
        assert without.get_component_availability(found)[studio["id"]] == 100.0


def test_a_sequence_and_a_folder(session, version, renders, disk):
    sequence = session.create_component(f"{renders}/sh010.%04d.exr [1001-1003]", {"version": version, "name": "beauty"})
    assert sequence.entity_type == "SequenceComponent" and sequence["padding"] == 4 and sequence["size"] == 6000
    assert sorted(member["name"] for member in sequence["members"]) == ["1001", "1002", "1003"]
    folder = renders / "review"
    folder.mkdir()
    (folder / "notes.pdf").write_bytes(b"%PDF")
    (folder / "contact.jpg").write_bytes(b"\xff\xd8")
    container = session.create_component(str(folder), {"version": version})
    assert container.entity_type == "ContainerComponent" and container["name"] == "review" and container["size"] == 6
    project = version["link"][0]["name"]
    base = f"{project}/sh010/plate/v001"
    assert files_under(disk) == [f"{base}/beauty.1001.exr", f"{base}/beauty.1002.exr", f"{base}/beauty.1003.exr",
                                 f"{base}/review/contact.jpg", f"{base}/review/notes.pdf"]  # fmt: skip
    location = session.pick_location(sequence)
    assert location.get_resource_identifier(sequence) == f"{base}/beauty.%04d.exr"
    assert session.get_component_availability(sequence)[location["id"]] == 100.0
    # Half the members gone: half available.
    location.remove_component(sequence["members"][0], recursive=False)
    assert session.get_component_availability(sequence)[location["id"]] == pytest.approx(100.0 * 2 / 3)
    location.remove_component(container)
    assert not (disk / base / "review").exists()


def test_a_folder_of_folders_is_containers_inside_containers(session, version, renders, disk):
    shot = renders / "shot"
    (shot / "comp" / "v2").mkdir(parents=True)
    (shot / "empty").mkdir()
    (shot / "edl.txt").write_bytes(b"edl")
    (shot / "comp" / "a.nk").write_bytes(b"nk")
    (shot / "comp" / "v2" / "b.exr").write_bytes(b"exr!")
    top = session.create_component(str(shot), {"version": version})
    assert (top.entity_type, top["name"], top["size"]) == ("ContainerComponent", "shot", 9)
    comp, empty = sorted((m for m in top["members"] if m.entity_type == "ContainerComponent"), key=lambda m: m["name"])
    assert (comp["name"], comp["size"], comp["container"]) == ("comp", 6, top) and empty["size"] == 0
    assert sorted((m.entity_type, m["name"], m["container"]["name"]) for m in comp["members"]) == [
        ("ContainerComponent", "v2", "comp"), ("FileComponent", "a", "comp")]
    v2 = next(member for member in comp["members"] if member["name"] == "v2")
    base = f"{version['link'][0]['name']}/sh010/plate/v001/shot"
    assert files_under(disk) == [f"{base}/comp/a.nk", f"{base}/comp/v2/b.exr", f"{base}/edl.txt"]
    assert (disk / base / "empty").is_dir()
    location = session.pick_location(top)
    assert location.get_resource_identifier(v2) == f"{base}/comp/v2"
    assert session.get_component_availability(top)[location["id"]] == 100.0
    # Found again from another session, the tree is the same.
    with Session(server_url=session.server_url, api_user="admin", plugin_paths=[str(PLUGIN)]) as other:
        found = other.get("ContainerComponent", top["id"])
        inner = other.query(f'ContainerComponent where container_id is "{comp["id"]}"').one()
        assert inner["name"] == "v2" and found["size"] == 9
        assert other.pick_location(inner).get_filesystem_path(inner) == str(disk / base / "comp" / "v2")
    location.remove_component(top)
    assert files_under(disk) == []


def test_a_folder_holding_a_link_to_a_folder_or_a_pipe_is_refused_and_nothing_made(session, version, tmp_path):
    linked = tmp_path / "linked"
    (linked / "real").mkdir(parents=True)
    (linked / "real" / "f.txt").write_bytes(b"x")
    (linked / "loop").symlink_to(linked, target_is_directory=True)
    before = len(session.created)
    with pytest.raises(ValueError, match=r"loop.*link to a folder"):
        session.create_component(str(linked), {"version": version})
    piped = tmp_path / "piped"
    piped.mkdir()
    os.mkfifo(piped / "fifo")
    with pytest.raises(ValueError, match=r"fifo.*not a file or a folder"):
        session.create_component(str(piped), {"version": version})
    assert len(session.created) == before


def test_adding_twice_is_refused_and_copies_nothing(session, version, renders, disk):
    component = session.create_component(str(renders / "plate.mov"), {"version": version, "name": "main"})
    location = session.pick_location(component)
    before = files_under(disk)
    with pytest.raises(ComponentInLocationError) as caught:
        location.add_component(component, session.get("Location", ORIGIN_LOCATION_ID))
    assert caught.value.components == [component] and caught.value.details["location"] is location
    assert files_under(disk) == before


def test_a_failed_copy_removes_what_the_add_wrote(session, version, renders, disk):
    (renders / "sh010.1003.exr").unlink()  # the last frame is missing from the renders
    sequence = session.create_component(f"{renders}/sh010.%04d.exr [1001-1003]", {"version": version, "name": "beauty"},
                                        location=None)  # fmt: skip
    location = session.query('Location where name is "studio.disk"').one()
    with pytest.raises(LocationError) as caught:
        location.add_component(sequence, session.get("Location", ORIGIN_LOCATION_ID))
    assert "sh010.1003.exr" in str(caught.value)
    assert files_under(disk) == []  # the two frames copied before are removed again
    assert session.get_component_availability(sequence)[location["id"]] == 0.0
    assert not [e for e in session.created if e.entity_type == "ComponentLocation"]


def test_a_file_at_the_target_is_never_overwritten_nor_removed(session, version, renders, disk):
    sequence = session.create_component(f"{renders}/sh010.%04d.exr [1001-1003]", {"version": version, "name": "beauty"},
                                        location=None)  # fmt: skip
    location = session.query('Location where name is "studio.disk"').one()
    project = version["link"][0]["name"]
    somebody_elses = disk / project / "sh010" / "plate" / "v001" / "beauty.1002.exr"
    somebody_elses.parent.mkdir(parents=True)
    somebody_elses.write_bytes(b"keep me")
    with pytest.raises(LocationError, match="already stored"):
        location.add_component(sequence, session.get("Location", ORIGIN_LOCATION_ID))
    assert files_under(disk) == [str(somebody_elses.relative_to(disk))] and somebody_elses.read_bytes() == b"keep me"


def test_a_failed_registration_removes_the_files(session, renders, tmp_path):
    store = tmp_path / "ids"
    location = session.ensure("Location", {"name": f"ids{uuid.uuid4().hex[:6]}"})
    location.accessor, location.structure = DiskAccessor(store), IdStructure()
    component = session.create_component(str(renders / "plate.mov"), {"version_id": str(uuid.uuid4())}, location=None)
    with pytest.raises(LocationError):
        location.add_component(component, session.get("Location", ORIGIN_LOCATION_ID))  # no such version: refused
    assert files_under(store) == []
    assert not [e for e in session.created if e.entity_type == "ComponentLocation"]
    session.rollback()


def test_removing_takes_the_data_and_the_registration(session, version, renders, disk):
    component = session.create_component(str(renders / "plate.mov"), {"version": version, "name": "main"})
    location = session.pick_location(component)
    location.remove_component(component)
    assert files_under(disk) == []
    assert session.pick_location(component) is None
    with pytest.raises(ComponentNotInLocationError):
        location.get_resource_identifier(component)
    with pytest.raises(ComponentNotInLocationError):
        location.remove_component(component)


def test_the_unmanaged_location_leaves_files_where_they_are(session, renders):
    unmanaged = session.get("Location", UNMANAGED_LOCATION_ID)
    path = str(renders / "plate.mov")
    component = session.create_component(path, {"name": "ref"}, location=unmanaged)
    assert unmanaged.get_filesystem_path(component) == path
    unmanaged.remove_component(component)
    assert os.path.exists(path)


def test_adding_and_removing_publish_events(session, version, renders):
    heard = []
    session.event_hub.subscribe("topic=ftrack.location.*", lambda event: heard.append((event["topic"], dict(event["data"]))))
    session.event_hub.connect()
    component = session.create_component(str(renders / "plate.mov"), {"version": version, "name": "main"})
    location = session.pick_location(component)
    location.remove_component(component)
    expected = [(COMPONENT_ADDED_TO_LOCATION_TOPIC, {"component_id": component["id"], "location_id": location["id"]}),
                ("ftrack.location.component-removed", {"component_id": component["id"], "location_id": location["id"]})]
    for _ in range(50):
        session.event_hub.wait(0.2)
        if all(item in heard for item in expected):
            break
    assert all(item in heard for item in expected)


def test_a_memory_location_through_mixin(session, renders):
    location = session.ensure("Location", {"name": f"memory{uuid.uuid4().hex[:6]}"})
    ftrack_api.mixin(location, ftrack_api.entity.location.MemoryLocationMixin)
    ftrack_api.mixin(location, ftrack_api.entity.location.UnmanagedLocationMixin)
    location.accessor, location.structure = DiskAccessor(""), OriginStructure()
    component = session.create_component(str(renders / "plate.mov"), location=location)
    assert location.get_filesystem_path(component) == str(renders / "plate.mov")
    assert session.query("ComponentLocation where component_id is :c", c=component["id"]).all() == []
    assert session.query(f'Location where name is "{location["name"]}"').one() is location  # kept, set up


def test_a_mixin_written_for_ftrack_without_slots(session):
    class Describing:  # as a plugin written for ftrack's client has it: no __slots__
        def describe(self):
            return f"{self['name']} at {self.accessor}"

    location = session.ensure("Location", {"name": f"plain{uuid.uuid4().hex[:6]}"})
    location.accessor = DiskAccessor("/mnt/x")
    ftrack_api.mixin(location, Describing, name="DescribingLocation")
    ftrack_api.mixin(location, Describing, name="DescribingLocation")  # once is enough
    assert type(location).__name__ == "DescribingLocation" and location.describe() == f"{location['name']} at DiskAccessor('/mnt/x')"


def test_a_location_without_structure_or_accessor_is_refused(session, renders):
    location = session.ensure("Location", {"name": f"bare{uuid.uuid4().hex[:6]}"})
    component = session.create_component(str(renders / "plate.mov"), location=None)
    with pytest.raises(LocationError, match="no structure"):
        location.add_component(component, session.get("Location", ORIGIN_LOCATION_ID))
    location.structure = StandardStructure()
    assert location not in session._get_locations()  # no accessor: out of reach
    session.rollback()


def test_the_howto_example_runs(tmp_path, disk):
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", HOWTO.read_text())
    assert blocks
    environment = {**os.environ, "FTRACK_EVENT_PLUGIN_PATH": str(PLUGIN.parent), "STUDIO_DISK": str(disk)}
    for block in blocks:
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(block)], cwd=tmp_path, env=environment,
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "studio.disk tutorial/sh010/plate/v001/main.%04d.exr",
        f"studio.disk {disk}/tutorial/sh010/plate/v001/main.1001.exr",
    ]
