"""``PublishedFile``: a component of ours outside the server location (its file where it lies, by its path in
``ftrack.unmanaged``), here of a Version given (its type the Version's asset's); ``Attachment`` is a component in the
server location (an upload). Through ``shotgun_api3``, unchanged, against ``ftrack-like serve`` on SQLite and PostgreSQL;
our Session sees the same component.
"""

import json
import mimetypes
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key, movie = sys.argv[1:4]
    sg = shotgun_api3.Shotgun(url, script_name="publisher", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Publishes"})
    sequence = sg.create("Sequence", {"project": project, "code": "sq010"})
    shot = sg.create("Shot", {"project": project, "code": "sh010", "sg_sequence": sequence})
    other = sg.create("Shot", {"project": project, "code": "sh020"})
    task = sg.create("Task", {"project": project, "entity": shot, "content": "comp"})
    version = sg.create("Version", {"project": project, "code": "sh010_comp_v001", "entity": shot, "sg_task": task})
    sg.upload("Version", version["id"], movie, "sg_uploaded_movie")  # an Attachment: not a PublishedFile
    fields = ["code", "path", "version", "entity", "task", "published_file_type", "project", "created_by", "version_number"]
    published = sg.create("PublishedFile", {"code": "sh010_comp_v001.exr", "entity": shot, "project": project,
                                            "path": {"local_path": "/mnt/jobs/publishes/sh010/comp/sh010_comp_v001.%04d.exr"},
                                            "version": version, "task": task}, fields)
    said["published"], said["version"], said["shot"], said["task"], said["project"] = published, version, shot, task, project
    said["found"] = sg.find("PublishedFile", [["entity", "is", shot]], fields)
    said["deep"] = [p["id"] for p in sg.find("PublishedFile", [["entity.Shot.sg_sequence", "is", sequence]])]
    said["deep_code"] = sg.find_one("PublishedFile", [["id", "is", published["id"]]], ["entity.Shot.sg_sequence"])
    said["other_shot"] = sg.find("PublishedFile", [["entity", "is", other]])
    said["attachments"] = [a["id"] for a in sg.find("Attachment", [])]
    said["as_attachment"] = sg.find_one("Attachment", [["id", "is", published["id"]]])
    try:
        sg.create("PublishedFile", {"code": "x", "entity": other, "version": version, "path": {"local_path": "/x"}})
    except shotgun_api3.Fault as fault:
        said["wrong_entity"] = str(fault)
    try:
        sg.create("PublishedFile", {"code": "x", "path": {"local_path": "/x"}})
    except shotgun_api3.Fault as fault:
        said["no_version"] = str(fault)  # nor entity nor project: nothing to hang under
    said["updated"] = sg.update("PublishedFile", published["id"], {"code": "sh010_comp_v001b.exr",
                                "path": {"local_path": "/mnt/jobs/publishes/sh010/comp/v001b.exr"}})
    said["deleted"] = sg.delete("PublishedFile", published["id"])
    said["after"] = sg.find("PublishedFile", [])
    said["retired"] = [p["id"] for p in sg.find("PublishedFile", [], retired_only=True)]
    said["retired_attachments"] = sg.find("Attachment", [], retired_only=True)
    said["revived"] = sg.revive("PublishedFile", published["id"])
    said["back"] = sg.find_one("PublishedFile", [["id", "is", published["id"]]], ["code", "path"])
    events = sg.find("EventLogEntry", [], ["event_type", "entity", "attribute_name"])
    said["events"] = [[e["event_type"], (e["entity"] or {}).get("id"), e["attribute_name"]] for e in events
                      if e["event_type"].startswith(("Shotgun_PublishedFile_", "Shotgun_Attachment_"))]
    print(json.dumps(said, default=str))
    """
)


FIND = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="publisher", api_key=key)
    found = sg.find("PublishedFile", [["code", "is", "sh010_denoise"]], ["code", "path", "entity", "version_number"])
    attachments = [a["display_name"] for a in sg.find("Attachment", [], ["display_name"])]
    sg.update("PublishedFile", found[0]["id"], {"path": {"local_path": "/mnt/jobs/denoised/sh010_denoise.exr"}})
    print(json.dumps({"found": found, "attachments": attachments}))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "publisher")
    return database, key


def test_a_published_file_is_a_component_outside_the_server_location(shotgun_python, studio, serve, tmp_path):
    database, key = studio
    movie = tmp_path / "sh010_comp_v001.mov"
    movie.write_bytes(b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)))
    denoised = tmp_path / "sh010_denoise.exr"
    denoised.write_bytes(b"v/1\x01" + bytes(64))
    with serve(database, "--storage", str(tmp_path / "files")) as url:  # the movie is kept there
        done = subprocess.run([shotgun_python, "-c", SCRIPT, url, key, str(movie)], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        said = json.loads(done.stdout.strip().splitlines()[-1])
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            ours = session.query("select name, version.asset.parent.name, component_locations.resource_identifier, "
                                 "component_locations.location.name from FileComponent where version.asset.parent.name "
                                 "is 'sh010' order by name").all()  # fmt: skip
            seen = sorted((c["name"], [(p["location"]["name"], p["resource_identifier"]) for p in c["component_locations"]]) for c in ours)
            # And what our Session publishes where it lies is a PublishedFile to a ShotGrid script.
            version_of_ours = session.query("AssetVersion where asset.parent.name is 'sh010'").one()
            unmanaged = session.query("Location where name is 'ftrack.unmanaged'").one()
            denoise = session.create_component(str(denoised), {"version": version_of_ours, "name": "sh010_denoise"},
                                               location=unmanaged)  # fmt: skip
            origin = session.query("Location where name is 'ftrack.origin'").one()
            session.create("ComponentLocation", {"component": denoise, "location": origin, "resource_identifier": "/ingest/denoise.exr"})
            session.commit()
            found = subprocess.run([shotgun_python, "-c", FIND, url, key], capture_output=True, text=True, timeout=600)
            assert found.returncode == 0, found.stderr[-3000:]
            theirs = json.loads(found.stdout.strip().splitlines()[-1])
            # The script's new path replaced the file's place in ftrack.unmanaged; where else ours keeps it stays.
            places = session.query(f"select location.name, resource_identifier from ComponentLocation "
                                   f"where component_id is '{denoise['id']}'").all()  # fmt: skip
            kept = sorted((p["location"]["name"], p["resource_identifier"]) for p in places)
    published, version, shot, task, project = (said[k] for k in ("published", "version", "shot", "task", "project"))
    path = "/mnt/jobs/publishes/sh010/comp/sh010_comp_v001.%04d.exr"
    assert published == {
        "type": "PublishedFile", "id": published["id"], "code": "sh010_comp_v001.exr",
        "path": {"local_path": path, "url": "file://" + path.replace("%", "%25"), "name": "sh010_comp_v001.%04d.exr",
                 "content_type": mimetypes.guess_type(path)[0], "link_type": "local"},
        "version": {"type": "Version", "id": version["id"], "name": "sh010_comp_v001"},  # its code, as ShotGrid names a Version link
        "entity": {"type": "Shot", "id": shot["id"], "name": "sh010"},
        "task": {"type": "Task", "id": task["id"], "name": "comp"},
        "published_file_type": {"type": "PublishedFileType", "id": published["published_file_type"]["id"], "name": "Upload"},
        "project": {"type": "Project", "id": project["id"], "name": "Publishes"},
        "created_by": published["created_by"],
        "version_number": 1,
    }  # fmt: skip
    assert published["created_by"] is None or published["created_by"]["type"] == "HumanUser"
    assert said["found"] == [published]
    assert said["deep"] == [published["id"]] and said["deep_code"]["entity.Shot.sg_sequence"]["name"] == "sq010"
    assert said["other_shot"] == [] and said["as_attachment"] is None
    assert len(said["attachments"]) == 1 and published["id"] not in said["attachments"]  # the uploaded movie
    assert "PublishedFile.entity is its version's" in said["wrong_entity"]
    assert "PublishedFile.entity" in said["no_version"] and "its entity or its project" in said["no_version"]
    assert said["updated"]["code"] == "sh010_comp_v001b.exr"
    assert said["deleted"] is True and said["after"] == [] and said["retired"] == [published["id"]]
    assert said["retired_attachments"] == [] and said["revived"] is True
    assert said["back"]["code"] == "sh010_comp_v001b.exr"
    assert said["back"]["path"]["local_path"] == "/mnt/jobs/publishes/sh010/comp/v001b.exr"
    mine = [e for e in said["events"] if e[1] == published["id"]]
    assert mine[0] == ["Shotgun_PublishedFile_New", published["id"], None]
    assert ["Shotgun_PublishedFile_Change", published["id"], "code"] in mine
    assert [e[0] for e in mine][-2:] == ["Shotgun_PublishedFile_Retirement", "Shotgun_PublishedFile_New"]
    assert [e[0] for e in said["events"] if e[1] == said["attachments"][0]] == ["Shotgun_Attachment_New"]
    # Our Session sees the same components: the published file where it lies, the movie on the server.
    assert seen[0][0] == "sh010_comp_v001" and seen[0][1][0][0] == "ftrack.server"
    assert seen[1] == ("sh010_comp_v001b.exr", [("ftrack.unmanaged", "/mnt/jobs/publishes/sh010/comp/v001b.exr")])
    assert [(f["code"], f["path"]["local_path"], f["entity"]["name"], f["version_number"]) for f in theirs["found"]] == [
        ("sh010_denoise", str(denoised), "sh010", 1)]
    assert theirs["attachments"] == ["sh010_comp_v001"]  # the movie (its display_name is our name: the stem)
    assert kept == [("ftrack.origin", "/ingest/denoise.exr"), ("ftrack.unmanaged", "/mnt/jobs/denoised/sh010_denoise.exr")]
