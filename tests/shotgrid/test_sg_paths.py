"""Where a ``local_path`` lands: the deepest LocalStorage root it is under (:func:`paths.within`), a Windows root
whatever the case and slashes; and a stored file answered under each platform's root (:func:`paths.answer`)."""

from ftrack_like_api.server.protocols.shotgrid import paths
from ftrack_like_api.server.protocols.shotgrid.mapping import Field
from ftrack_like_api.symbol import UNMANAGED_LOCATION_ID

ROOTS = {
    "primary": {"linux_path": "/mnt/projects", "windows_path": "P:\\Projects"},
    "renders": {"linux_path": "/mnt/projects/renders/"},
}


def test_a_local_path_lands_under_the_deepest_root_it_is_under():
    assert paths.within("/mnt/projects/show/sh010/a.ma", ROOTS) == ("primary", "show/sh010/a.ma")
    assert paths.within("/mnt/projects/renders/sh010/a.exr", ROOTS) == ("renders", "sh010/a.exr")
    assert paths.within("p:/projects\\show\\b.nk", ROOTS) == ("primary", "show/b.nk")
    assert paths.within("/mnt/projects2/x.ma", ROOTS) is None  # a root is a folder, not a prefix of a name
    assert paths.within("/mnt/projects", ROOTS) is None and paths.within("/elsewhere/x.ma", ROOTS) is None


def test_a_file_in_a_storage_is_answered_under_each_platforms_root_and_unmanaged_first():
    field = Field(name="path", kind="path", key=UNMANAGED_LOCATION_ID)
    place = {"location_id": "primary", "resource_identifier": "show/a.ma",
             "location": {"name": "primary", "metadata": [{"key": k, "value": v} for k, v in ROOTS["primary"].items()]}}
    answer = paths.answer(field, {"component_locations": [place]}, {"primary": 7})
    assert (answer["local_path"], answer["local_path_linux"], answer["local_path_mac"], answer["local_path_windows"]) == (
        "/mnt/projects/show/a.ma", "/mnt/projects/show/a.ma", None, "P:\\Projects\\show\\a.ma")
    assert answer["local_storage"] == {"type": "LocalStorage", "id": 7, "name": "primary"}
    assert paths.storage({"component_locations": [place]}, {"primary": 7}) == answer["local_storage"]
    unmanaged = {"location_id": UNMANAGED_LOCATION_ID, "resource_identifier": "/tmp/a.ma"}
    assert paths.answer(field, {"component_locations": [place, unmanaged]}, {})["local_path"] == "/tmp/a.ma"
    assert paths.answer(field, {"component_locations": [{"location_id": "x", "resource_identifier": "a"}]}, {}) is None
