"""Structures: the resource identifiers ftrack's rules give, from versions committed to a real database."""

import uuid

import pytest

from ftrack_like_api.exceptions import StructureError
from ftrack_like_api.session import Session
from ftrack_like_api.structure import EntityIdStructure, IdStructure, OriginStructure, StandardStructure

pytest.importorskip("sqlalchemy", reason="the embedded mode needs the server extra")


@pytest.fixture(scope="module")
def session(database):
    with Session(server_url=database, api_user="admin") as session:
        yield session


@pytest.fixture(scope="module")
def project(session):
    name = f"Structure Tests {uuid.uuid4().hex[:6]}"
    project = session.create("Project", {"name": name, "full_name": name, "project_schema": session.query("ProjectSchema").first()})
    session.commit()
    return project


def version_under(session, parent, asset_name="plate"):
    asset = session.create("Asset", {"name": asset_name, "parent": parent, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    session.commit()
    return version


def hierarchy(session, project, *names):
    parent = project
    for name in names:
        parent = session.create("Folder", {"name": name, "parent": parent})
    session.commit()
    return parent


def test_a_version_links_its_project_its_contexts_and_itself(session, project):
    shot = hierarchy(session, project, "sq010", "sh010")
    version = version_under(session, shot)
    link = version["link"]
    assert [step["type"] for step in link] == ["Project", "TypedContext", "TypedContext", "AssetVersion"]
    assert [step["id"] for step in link] == [project["id"], shot["parent"]["id"], shot["id"], version["id"]]
    assert [step["name"] for step in version["asset"]["link"]][1:] == ["sq010", "sh010", "plate"]


def test_a_file_component_on_the_project(session, project):
    version = version_under(session, project, "on project")
    component = session.create("FileComponent", {"name": "foo", "file_type": ".png", "version": version})
    folder = project["name"].lower().replace(" ", "_")
    assert StandardStructure().get_resource_identifier(component) == f"{folder}/on_project/v001/foo.png"
    prefixed = StandardStructure(project_versions_prefix="versions")
    assert prefixed.get_resource_identifier(component) == f"{folder}/versions/on_project/v001/foo.png"


def test_components_under_a_hierarchy(session, project):
    parent = hierarchy(session, project, "baz", "bar")
    version = version_under(session, parent, "my_new_asset")
    folder = project["name"].lower().replace(" ", "_")
    base = f"{folder}/baz/bar/my_new_asset/v001"
    structure = StandardStructure()
    single = session.create("FileComponent", {"name": "foo", "file_type": ".png", "version": version})
    assert structure.get_resource_identifier(single) == f"{base}/foo.png"
    sequence = session.create_component("/tmp/missing/%04d.jpg [1-10]", {"name": "baz", "version": version}, location=None)
    assert structure.get_resource_identifier(sequence) == f"{base}/baz.%04d.jpg"
    assert structure.get_resource_identifier(sequence["members"][3]) == f"{base}/baz.0004.jpg"
    container = session.create("ContainerComponent", {"name": "container_component", "version": version})
    member = session.create("FileComponent", {"name": "foo", "file_type": ".png", "container": container})
    assert structure.get_resource_identifier(container) == f"{base}/container_component"
    assert structure.get_resource_identifier(member) == f"{base}/container_component/foo.png"


def test_names_are_made_safe_for_a_file_system(session, project):
    version = version_under(session, hierarchy(session, project, "Shot Ünïcode"), "My Asset!")
    component = session.create("FileComponent", {"name": "Über comp", "file_type": ".exr", "version": version})
    path = StandardStructure().get_resource_identifier(component)
    assert path.split("/")[1:] == ["shot_unicode", "my_asset_", "v001", "uber_comp.exr"]
    kept = StandardStructure(illegal_character_substitute=None).get_resource_identifier(component)
    assert kept.split("/")[1:] == ["Shot Ünïcode", "My Asset!", "v001", "Über comp.exr"]


def test_a_component_without_a_committed_version_has_no_place(session, project):
    structure = StandardStructure()
    with pytest.raises(StructureError):
        structure.get_resource_identifier(session.create("FileComponent", {"name": "loose", "file_type": ".exr"}))
    asset = session.create("Asset", {"name": "new", "parent": project, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    with pytest.raises(StructureError):
        structure.get_resource_identifier(session.create("FileComponent", {"name": "f", "file_type": ".exr", "version": version}))
    session.rollback()


def test_the_id_structure(session):
    key = "0123456789abcdef-0000-0000-000000000000"
    component = session.create("FileComponent", {"id": key, "name": "f", "file_type": ".exr"})
    structure = IdStructure(prefix="store")
    assert structure.get_resource_identifier(component) == "store/0/1/2/3/456789abcdef-0000-0000-000000000000.exr"
    sequence = session.create("SequenceComponent", {"id": "abcd" + key[4:], "name": "s", "file_type": ".exr", "padding": 4})
    member = session.create("FileComponent", {"name": "0001", "file_type": ".exr", "container": sequence})
    assert structure.get_resource_identifier(sequence) == f"store/a/b/c/d/{key[4:]}/file.%04d.exr"
    assert structure.get_resource_identifier(member) == f"store/a/b/c/d/{key[4:]}/file.0001.exr"
    session.rollback()


def test_origin_and_entity_id_pass_through(session):
    component = session.create("FileComponent", {"name": "f"})
    assert OriginStructure().get_resource_identifier(component, {"source_resource_identifier": "/renders/f.exr"}) == "/renders/f.exr"
    with pytest.raises(ValueError):
        OriginStructure().get_resource_identifier(component, {})
    assert EntityIdStructure().get_resource_identifier(component) == component["id"]
    session.rollback()


def test_a_component_given_its_version_after_both_were_made(session, project):
    # ftrack's scripts (and its own tests) make the component first and give it a version made later.
    component = session.create("FileComponent", {"name": "foo", "file_type": ".png"})
    asset = session.create("Asset", {"name": "late", "parent": project, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    component["version"] = version
    session.commit()
    folder = project["name"].lower().replace(" ", "_")
    assert StandardStructure().get_resource_identifier(component) == f"{folder}/late/v001/foo.png"
