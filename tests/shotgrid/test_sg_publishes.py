"""Publishing as tk-core does (``sgtk.util.register_publish``): a ``PublishedFileType`` found or made by its code, and a
``PublishedFile`` made with no version — its entity, task, type, number and creator on an AssetVersion of ours made for
it — and its ``path`` within a ``LocalStorage``. Through ``shotgun_api3``, unchanged, against ``ftrack-like serve`` on
SQLite and PostgreSQL; our Session sees the same asset, version and component.
"""

import json
import mimetypes
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

#: The calls tk-core's register_publish makes (python/tank/util/shotgun/publish_creation.py), written again here with
#: the data it sends: find the type by code, make it when missing, then create the publish with no version.
SCRIPT = textwrap.dedent(
    """
    import json, sys, urllib.request
    import shotgun_api3

    url, key, thumbnail = sys.argv[1:4]
    sg = shotgun_api3.Shotgun(url, script_name="toolkit", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Toolkit"})
    shot = sg.create("Shot", {"project": project, "code": "sh010"})
    task = sg.create("Task", {"project": project, "entity": shot, "content": "layout"})
    user = sg.find_one("HumanUser", [["login", "is", "admin"]], ["name"])
    storage = sg.create("LocalStorage", {"code": "primary", "linux_path": "/mnt/projects", "mac_path": "/Volumes/projects",
                                         "windows_path": "P:\\\\projects"})

    def register_publish(path, name, version_number, publish_type, entity, extra=None):
        found = sg.find_one("PublishedFileType", filters=[["code", "is", publish_type]])
        if not found:
            found = sg.create("PublishedFileType", {"code": publish_type})
        data = {"description": "first layout", "name": name, "task": task, "version_number": version_number,
                "created_by": user, "published_file_type": found, "entity": entity, "project": project,
                "code": path.rsplit("/", 1)[-1], "path": {"local_path": path}}
        data.update(extra or {})
        entity = sg.create("PublishedFile", data)
        sg.upload_thumbnail("PublishedFile", entity["id"], thumbnail)  # as register_publish does given a thumbnail_path
        return entity

    fields = ["code", "name", "description", "entity", "task", "project", "version_number", "created_by",
              "published_file_type", "path", "path_cache", "version"]
    first = register_publish("/mnt/projects/toolkit/sh010/layout/scene.v001.ma", "scene", 1, "Maya Scene", shot,
                             {"path_cache": "toolkit/sh010/layout/scene.v001.ma"})
    said["types_after_first"] = sg.find("PublishedFileType", [["code", "is", "Maya Scene"]], ["code", "description"])
    second = register_publish("/mnt/projects/toolkit/sh010/layout/scene.v002.ma", "scene", 2, "Maya Scene", shot)
    cache = register_publish("/mnt/projects/toolkit/sh010/layout/cache.v002.abc", "cache", 2, "Alembic Cache", shot)
    editorial = register_publish("/srv/editorial/cut.v001.edl", "cut", 1, "EDL", project)  # under no storage
    # register_publish's last step (_create_dependencies): one batch of PublishedFileDependency rows.
    said["dependencies"] = sg.batch([
        {"request_type": "create", "entity_type": "PublishedFileDependency",
         "data": {"published_file": cache, "dependent_published_file": {"type": "PublishedFile", "id": dependency["id"]}}}
        for dependency in (first, second)])
    said["depends"] = sorted(d["dependent_published_file"]["id"] for d in sg.find(
        "PublishedFileDependency", [["published_file", "is", cache]], ["published_file", "dependent_published_file"]))
    said["upstream"] = sorted(p["id"] for p in sg.find_one("PublishedFile", [["id", "is", cache["id"]]],
                                                           ["upstream_published_files"])["upstream_published_files"])
    said["downstream"] = sg.find_one("PublishedFile", [["id", "is", first["id"]]], ["downstream_published_files"])
    said["using_first"] = [p["id"] for p in sg.find("PublishedFile", [["upstream_published_files", "is", first]])]
    # tk-core's find_publish: by path_cache within a storage.
    said["found_by_path"] = sg.find("PublishedFile", [["path_cache", "in", ["toolkit/sh010/layout/scene.v001.ma", "nothing"]],
                                                      ["path_cache_storage", "is", storage]], ["path_cache", "created_at"])
    said["storages"] = {p["code"]: p["path_cache_storage"] for p in sg.find("PublishedFile", [], ["code", "path_cache_storage"])}
    said["in_no_storage"] = [p["code"] for p in sg.find("PublishedFile", [["path_cache_storage", "is", None]], ["code"])]
    said["first"] = sg.find_one("PublishedFile", [["id", "is", first["id"]]], fields)
    said["image"] = urllib.request.urlopen(sg.find_one("PublishedFile", [["id", "is", first["id"]]], ["image"])["image"]).read()[:3].hex()
    said["with_image"] = len(sg.find("PublishedFile", [["image", "is_not", None]]))
    said["created"] = first
    said["editorial"] = sg.find_one("PublishedFile", [["id", "is", editorial["id"]]], ["entity", "project", "version_number", "path"])
    wanted = ["Maya Scene", "Alembic Cache", "EDL"]
    said["types"] = sorted(t["code"] for t in sg.find("PublishedFileType", [["code", "in", wanted]], ["code"]))
    said["maya"] = [p["id"] for p in sg.find("PublishedFile", [["published_file_type.PublishedFileType.code", "is", "Maya Scene"]],
                                             order=[{"field_name": "version_number", "direction": "asc"}])]
    said["by_type"] = [p["id"] for p in sg.find("PublishedFile", [["published_file_type", "is", said["first"]["published_file_type"]]])]
    said["latest_scene"] = sg.find("PublishedFile", [["entity", "is", shot], ["name", "is", "scene"]], ["version_number"],
                                   order=[{"field_name": "version_number", "direction": "desc"}], limit=1)
    said["by_task_step"] = [p["id"] for p in sg.find("PublishedFile", [["task.Task.content", "is", "layout"]])]
    kind = sg.create("PublishedFileType", {"code": "Nuke Script", "description": "a comp"}, ["code", "description"])
    said["new_type"] = sg.find_one("PublishedFileType", [["id", "is", kind["id"]]], ["code", "description"])
    said["described"] = sg.update("PublishedFileType", kind["id"], {"description": "a Nuke comp"})

    # A publish within a LocalStorage (tk-core's relative_path and local_storage), and a web link.
    stored = sg.create("PublishedFile", {"code": "plate.exr", "name": "plate", "entity": shot, "project": project,
                                         "path": {"relative_path": "toolkit/sh010/plate/plate.v001.exr",
                                                  "local_storage": storage}}, ["path", "version_number"])
    said["stored"] = stored
    web = sg.create("PublishedFile", {"code": "reference", "entity": shot, "path": {"url": "https://example.com/ref/board.pdf",
                                                                                    "name": "board.pdf"}}, ["path"])
    said["web"] = web["path"]

    # The review version, made afterwards and set on the publish by update.
    version = sg.create("Version", {"project": project, "code": "sh010_layout_v001", "entity": shot, "sg_task": task})
    said["versioned"] = sg.update("PublishedFile", second["id"], {"version": version})
    said["versioned_back"] = sg.find_one("PublishedFile", [["id", "is", second["id"]]], ["version", "entity", "code"])
    try:
        sg.update("PublishedFile", first["id"], {"version_number": 7})
    except shotgun_api3.Fault as fault:
        said["renumbered"] = str(fault)
    try:
        sg.create("PublishedFile", {"code": "x", "entity": shot, "version": version, "version_number": 9})
    except shotgun_api3.Fault as fault:
        said["other_number"] = str(fault)
    said["schema"] = sorted(sg.schema_field_read("PublishedFileType"))
    said["versions"] = [v["id"] for v in sg.find("Version", [])]
    said["unversioned"] = sorted(p["id"] for p in sg.find("PublishedFile", [["version", "is", None]]))
    logged = sg.find("EventLogEntry", [], ["event_type", "entity"])
    said["events"] = [[e["event_type"], (e["entity"] or {}).get("id")] for e in logged
                      if e["event_type"].startswith(("Shotgun_Version_", "Shotgun_PublishedFile_New"))]
    said["dependency_events"] = [[e["event_type"], (e["entity"] or {}).get("id")] for e in logged
                                 if e["event_type"].startswith("Shotgun_PublishedFileDependency_")]
    # tk-multi-publish2's review step: a Version made with the publish among its published_files.
    review = sg.create("Version", {"project": project, "code": "cut_review", "published_files": [editorial]}, ["published_files"])
    said["review_files"] = review["published_files"]
    said["editorial_version"] = sg.find_one("PublishedFile", [["id", "is", editorial["id"]]], ["version"])["version"]
    said["versions_with"] = [v["id"] for v in sg.find("Version", [["published_files", "is", editorial]])]
    said["review_id"] = review["id"]
    try:
        sg.update("Version", review["id"], {"published_files": [editorial]}, multi_entity_update_modes={"published_files": "remove"})
    except shotgun_api3.Fault as fault:
        said["unfiled"] = str(fault)
    print(json.dumps({"said": said, "ids": {"first": first["id"], "second": second["id"], "cache": cache["id"],
                                            "shot": shot["id"], "task": task["id"], "project": project["id"],
                                            "user": user["id"], "storage": storage["id"], "version": version["id"]}}, default=str))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "toolkit")
    return database, key


def test_tk_cores_register_publish_runs_unchanged_with_no_version(shotgun_python, studio, serve, tmp_path):
    from PIL import Image

    database, key = studio
    image = tmp_path / "thumbnail.png"
    Image.new("RGB", (64, 48), (40, 200, 40)).save(image)
    with serve(database, "--storage", str(tmp_path / "files")) as url:
        done = subprocess.run([shotgun_python, "-c", SCRIPT, url, key, str(image)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            ours = session.query("select name, version.version, version.task.name, version.user.username, "
                                 "version.asset.name, version.asset.type.name, version.asset.parent.name, "
                                 "component_locations.resource_identifier, component_locations.location.name "
                                 "from FileComponent where version.asset.parent.name is 'sh010' order by name").all()  # fmt: skip
            seen = {c["name"]: (c["version"]["version"], c["version"]["asset"]["name"], c["version"]["asset"]["type"]["name"]
                                if c["version"]["asset"]["type"] else None, c["version"]["task"]["name"] if c["version"]["task"] else None,
                                sorted((p["location"]["name"], p["resource_identifier"]) for p in c["component_locations"]))
                    for c in ours}  # fmt: skip
            kinds = {t["name"]: t["short"] for t in session.query("select name, short from AssetType").all()}
            cache = session.query("select uses_versions.components.name from AssetVersion where asset.name is 'cache'").one()
            uses = sorted([c["name"] for c in v["components"]] for v in cache["uses_versions"])
            # A component our Session puts in the LocalStorage's location is a PublishedFile with its path there.
            primary = session.query("Location where name is 'primary'").one()
            version = session.query("AssetVersion where asset.name is 'cache'").one()
            component = session.create("FileComponent", {"name": "cache_extra.abc", "version": version})
            session.create("ComponentLocation", {"component": component, "location": primary,
                                                 "resource_identifier": "toolkit/sh010/layout/cache_extra.abc"})  # fmt: skip
            session.commit()
        read = subprocess.run([shotgun_python, "-c", textwrap.dedent("""
            import json, sys
            import shotgun_api3
            sg = shotgun_api3.Shotgun(sys.argv[1], script_name="toolkit", api_key=sys.argv[2])
            print(json.dumps(sg.find("PublishedFile", [["code", "is", "cache_extra.abc"]],
                                     ["path", "published_file_type", "version_number", "name"])))
            """), url, key], capture_output=True, text=True, timeout=600)  # fmt: skip
        assert read.returncode == 0, read.stderr[-3000:]
        theirs = json.loads(read.stdout.strip().splitlines()[-1])
    said, ids = answer["said"], answer["ids"]
    first = said["first"]
    path = "/mnt/projects/toolkit/sh010/layout/scene.v001.ma"
    maya = first["published_file_type"]
    assert first == {
        "type": "PublishedFile", "id": ids["first"], "code": "scene.v001.ma", "name": "scene", "description": "first layout",
        "entity": {"type": "Shot", "id": ids["shot"], "name": "sh010"},
        "task": {"type": "Task", "id": ids["task"], "name": "layout"},
        "project": {"type": "Project", "id": ids["project"], "name": "Toolkit"},
        "version_number": 1, "created_by": {"type": "HumanUser", "id": ids["user"], "name": first["created_by"]["name"]},
        "published_file_type": {"type": "PublishedFileType", "id": maya["id"], "name": "Maya Scene"},
        "path": {  # under the LocalStorage's Linux root: kept there, as ShotGrid splits a local_path
            "local_path": path, "local_path_linux": path, "local_path_mac": "/Volumes/projects/toolkit/sh010/layout/scene.v001.ma",
            "local_path_windows": "P:\\projects\\toolkit\\sh010\\layout\\scene.v001.ma",
            "local_storage": {"type": "LocalStorage", "id": ids["storage"], "name": "primary"},
            "relative_path": "toolkit/sh010/layout/scene.v001.ma", "url": "file://" + path, "name": "scene.v001.ma",
            "content_type": mimetypes.guess_type(path)[0], "link_type": "local"},
        "path_cache": "toolkit/sh010/layout/scene.v001.ma",
        "version": None,  # the AssetVersion made for it is not a ShotGrid Version
    }  # fmt: skip
    assert said["created"]["published_file_type"] == {"type": "PublishedFileType", "id": maya["id"], "name": "Maya Scene"}
    assert said["types_after_first"] == [{"type": "PublishedFileType", "id": maya["id"], "code": "Maya Scene", "description": None}]
    assert said["editorial"]["entity"] == {"type": "Project", "id": ids["project"], "name": "Toolkit"}
    assert said["editorial"]["project"]["id"] == ids["project"] and said["editorial"]["version_number"] == 1
    assert said["editorial"]["path"] == {"local_path": "/srv/editorial/cut.v001.edl", "url": "file:///srv/editorial/cut.v001.edl",
                                         "name": "cut.v001.edl", "content_type": mimetypes.guess_type("cut.v001.edl")[0],
                                         "link_type": "local"}  # fmt: skip
    assert said["types"] == ["Alembic Cache", "EDL", "Maya Scene"]
    assert said["image"] == "89504e" and said["with_image"] == 4  # the publish's thumbnail: its version's
    assert said["maya"] == [ids["first"], ids["second"]] and sorted(said["by_type"]) == [ids["first"], ids["second"]]
    assert [p["version_number"] for p in said["latest_scene"]] == [2]
    assert sorted(said["by_task_step"]) == sorted([ids["first"], ids["second"], ids["cache"], said["editorial"]["id"]])
    assert said["new_type"]["code"] == "Nuke Script" and said["new_type"]["description"] == "a comp"
    assert said["described"]["description"] == "a Nuke comp"
    stored = said["stored"]["path"]
    assert stored["local_path"] == "/mnt/projects/toolkit/sh010/plate/plate.v001.exr"  # the client's platform's (Linux)
    assert stored["local_path_mac"] == "/Volumes/projects/toolkit/sh010/plate/plate.v001.exr"
    assert stored["local_path_windows"] == "P:\\projects\\toolkit\\sh010\\plate\\plate.v001.exr"
    assert stored["local_storage"] == {"type": "LocalStorage", "id": ids["storage"], "name": "primary"}
    assert stored["relative_path"] == "toolkit/sh010/plate/plate.v001.exr" and stored["link_type"] == "local"
    assert said["stored"]["version_number"] == 1
    assert said["web"] == {"url": "https://example.com/ref/board.pdf", "name": "board.pdf",
                           "content_type": mimetypes.guess_type("board.pdf")[0], "link_type": "web"}  # fmt: skip
    assert said["versioned"]["version"] == {"type": "Version", "id": ids["version"], "name": "sh010_layout_v001"}
    assert said["versioned_back"]["version"]["id"] == ids["version"] and said["versioned_back"]["code"] == "scene.v002.ma"
    assert "PublishedFile.version_number" in said["renumbered"] and "set when it is made" in said["renumbered"]
    assert "PublishedFile.version_number is its version's" in said["other_number"]
    assert said["schema"] == ["code", "description", "id", "short_name"]
    (made, _) = said["dependencies"]
    assert made["type"] == "PublishedFileDependency" and made["published_file"]["id"] == ids["cache"]
    assert said["depends"] == said["upstream"] == sorted([ids["first"], ids["second"]])
    assert said["downstream"]["downstream_published_files"] == [{"type": "PublishedFile", "id": ids["cache"], "name": "cache.v002.abc"}]
    assert said["using_first"] == [ids["cache"]]
    assert [(p["id"], p["path_cache"]) for p in said["found_by_path"]] == [(ids["first"], "toolkit/sh010/layout/scene.v001.ma")]
    primary = {"type": "LocalStorage", "id": ids["storage"], "name": "primary"}
    assert said["storages"] == {"scene.v001.ma": primary, "scene.v002.ma": primary, "cache.v002.abc": primary, "cut.v001.edl": None}
    assert said["in_no_storage"] == ["cut.v001.edl"]
    assert said["versions"] == [ids["version"]]  # the review Version alone: none of the versions made for publishes
    assert said["review_files"] == [{"type": "PublishedFile", "id": said["editorial"]["id"], "name": "cut.v001.edl"}]
    assert said["editorial_version"] == {"type": "Version", "id": said["review_id"], "name": "cut_review"}
    assert said["versions_with"] == [said["review_id"]] and "files are set or added here" in said["unfiled"]
    assert ids["first"] in said["unversioned"] and ids["second"] not in said["unversioned"]
    assert [e for e in said["events"] if e[0].startswith("Shotgun_Version_")] == [["Shotgun_Version_New", ids["version"]]]
    assert len([e for e in said["events"] if e[0] == "Shotgun_PublishedFile_New"]) == 6
    assert said["dependency_events"] == [["Shotgun_PublishedFileDependency_New", made["id"] + n] for n in (0, 1)]
    # Our Session: the cache's version uses the scenes' versions — the one of v002 empty since its file moved to the
    # review Version (a dependency links versions, and stays with the version).
    assert uses == [[], ["scene.v001.ma"]]
    # Our Session: each publish is ftrack's asset (its name, its type) > version (its number, task, user) > component.
    assert seen["scene.v001.ma"] == (1, "scene", "Maya Scene", "layout", [("primary", "toolkit/sh010/layout/scene.v001.ma")])
    assert seen["cache.v002.abc"][:4] == (2, "cache", "Alembic Cache", "layout")
    assert seen["plate.exr"] == (1, "plate", None, None, [("primary", "toolkit/sh010/plate/plate.v001.exr")])
    assert kinds["Maya Scene"] == "Maya Scene" and kinds["Nuke Script"] == "Nuke Script"
    (extra,) = theirs
    assert extra["path"]["local_path"] == "/mnt/projects/toolkit/sh010/layout/cache_extra.abc"
    assert extra["published_file_type"]["name"] == "Alembic Cache" and extra["version_number"] == 2
