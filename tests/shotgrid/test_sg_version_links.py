"""A link to a ``Version`` is named by the Version's ``code`` (kept in its metadata), as ShotGrid names it: in a
find's fields, a deep field, a multi-entity field, the answers of create and update, a summary's groups, and the
event log's ``entity`` and ``meta``.
Through ``shotgun_api3``, unchanged, against ``ftrack-like serve`` on SQLite and PostgreSQL.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="linker", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Links"})
    shot = sg.create("Shot", {"project": project, "code": "sh010"})
    anim = sg.create("Version", {"project": project, "code": "sh010_anim_v003", "entity": shot})
    light = sg.create("Version", {"project": project, "code": "sh010_light_v001", "entity": shot})
    unnamed = sg.create("Version", {"project": project, "entity": shot})  # no code: its links name None
    said["ids"] = {"anim": anim["id"], "light": light["id"], "unnamed": unnamed["id"]}
    made = sg.create("PublishedFile", {"code": "anim.abc", "project": project, "version": anim,
                                       "path": {"local_path": "/mnt/jobs/sh010/anim.abc"}}, ["version"])
    said["created"] = made["version"]
    sg.create("PublishedFile", {"code": "anim_cam.abc", "project": project, "version": anim,
                                "path": {"local_path": "/mnt/jobs/sh010/anim_cam.abc"}})
    sg.create("PublishedFile", {"code": "light.exr", "project": project, "version": light,
                                "path": {"local_path": "/mnt/jobs/sh010/light.exr"}})
    sg.create("PublishedFile", {"code": "bare.exr", "project": project, "version": unnamed,
                                "path": {"local_path": "/mnt/jobs/sh010/bare.exr"}})
    said["found"] = sorted(([p["code"], p["version"]] for p in sg.find("PublishedFile", [], ["code", "version"])), key=str)
    said["one"] = sg.find_one("PublishedFile", [["version.Version.code", "is", "sh010_light_v001"]], ["version"])["version"]
    said["deep"] = sg.find_one("Playlist", [], ["versions"])
    playlist = sg.create("Playlist", {"project": project, "code": "dailies", "versions": [anim, light]}, ["versions"])
    said["playlist_created"] = playlist["versions"]
    said["playlist_updated"] = sg.update("Playlist", playlist["id"], {"versions": [light]})["versions"]
    said["playlist_found"] = sg.find_one("Playlist", [["id", "is", playlist["id"]]], ["versions"])["versions"]
    said["deep_version"] = sorted(([p["code"], p["version.Version.code"]]
                                   for p in sg.find("PublishedFile", [], ["code", "version.Version.code"])), key=str)
    grouped = sg.summarize("PublishedFile", [], [{"field": "id", "type": "count"}], grouping=[{"field": "version", "type": "exact",
                                                                                             "direction": "asc"}])
    said["groups"] = sorted(([g["group_name"], g["group_value"], g["summaries"]["id"]] for g in grouped["groups"]), key=str)
    sg.update("Version", anim["id"], {"code": "sh010_anim_v004"})
    said["renamed"] = sg.find_one("PublishedFile", [["code", "is", "anim.abc"]], ["version"])["version"]
    bare = sg.find_one("PublishedFile", [["code", "is", "bare.exr"]])
    said["moved"] = sg.update("PublishedFile", bare["id"], {"version": light})["version"]
    events = sg.find("EventLogEntry", [], ["event_type", "entity", "attribute_name", "meta"])
    said["version_events"] = [e["entity"] for e in events if e["event_type"] == "Shotgun_Version_New"]
    said["version_changes"] = [[e["meta"]["old_value"], e["meta"]["new_value"]] for e in events
                               if e["event_type"] == "Shotgun_PublishedFile_Change" and e["attribute_name"] == "version"]
    print(json.dumps(said))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "linker")
    return database, key


def test_a_version_link_is_named_by_the_versions_code(shotgun_python, studio, serve):
    database, key = studio
    with serve(database) as url:
        done = subprocess.run([shotgun_python, "-c", SCRIPT, url, key], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    ids = said["ids"]
    anim = {"type": "Version", "id": ids["anim"], "name": "sh010_anim_v003"}
    light = {"type": "Version", "id": ids["light"], "name": "sh010_light_v001"}
    unnamed = {"type": "Version", "id": ids["unnamed"], "name": None}
    assert said["created"] == anim
    assert said["found"] == [["anim.abc", anim], ["anim_cam.abc", anim], ["bare.exr", unnamed], ["light.exr", light]]
    assert said["one"] == light
    assert said["deep"] is None  # no playlist yet
    assert sorted(said["playlist_created"], key=lambda v: v["id"]) == [anim, light]
    assert said["playlist_updated"] == [light] and said["playlist_found"] == [light]
    assert said["deep_version"] == [["anim.abc", "sh010_anim_v003"], ["anim_cam.abc", "sh010_anim_v003"], ["bare.exr", None],
                                    ["light.exr", "sh010_light_v001"]]  # fmt: skip
    assert said["groups"] == sorted([["sh010_anim_v003", anim, 2], ["sh010_light_v001", light, 1], [None, unnamed, 1]], key=str)
    renamed = {**anim, "name": "sh010_anim_v004"}
    assert said["renamed"] == renamed  # read where the code is kept, not remembered
    assert said["moved"] == light
    # The event log names them too (by their codes now): the Versions made, and a PublishedFile's version changed.
    assert said["version_events"] == [renamed, light, unnamed]
    assert said["version_changes"] == [[unnamed, light]]
