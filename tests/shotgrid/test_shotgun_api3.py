"""The official ``shotgun_api3`` client, unchanged, against ``ftrack-like serve`` on 127.0.0.1.

The client runs in a virtual environment of its own (``conftest.py``), driven by scripts
that print what they saw as JSON; each test then checks it, and what our own engine holds.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.server.protocols.shotgrid.pages import placed  # noqa: E402

PASSWORD = "correct horse battery"

PRODUCTION = textwrap.dedent(
    """
    import json, sys, urllib.request
    import shotgun_api3

    url, key, image = sys.argv[1:4]
    sg = shotgun_api3.Shotgun(url, script_name="pipeline", api_key=key)
    said = {"version": list(sg.server_caps.version)}
    project = sg.create("Project", {"name": "Coming from ShotGrid"})
    sequence = sg.create("Sequence", {"code": "sq010", "project": project, "sg_status_list": "ip"})
    other = sg.create("Sequence", {"code": "sq020", "project": project})
    shots = [sg.create("Shot", {"code": "sh%03d" % i, "project": project, "sg_sequence": sequence if i < 3 else other,
                                "sg_cut_in": 1001 + i, "description": "shot %d" % i}) for i in range(5)]
    said["ids"] = [project["id"], sequence["id"], other["id"]] + [s["id"] for s in shots]
    said["created"] = shots[0]
    step = sg.find_one("Step", [["code", "is", "Compositing"]], ["code"])
    task = sg.create("Task", {"content": "comp", "entity": shots[0], "step": step, "sg_status_list": "rdy",
                              "start_date": "2024-05-01", "due_date": "2024-05-10"},
                     return_fields=["project", "entity.Shot.sg_sequence.Sequence.code"])
    said["task"] = task
    said["tasks"] = [task["id"], sg.create("Task", {"content": "roto", "entity": shots[3], "sg_status_list": "ip",
                                                     "step": sg.find_one("Step", [["code", "is", "Roto"]])})["id"]]
    me = sg.find_one("HumanUser", [["login", "is", "admin"]])
    version = sg.create("Version", {"code": "sh000_comp_v001", "project": project, "entity": shots[0], "sg_task": task,
                                    "user": me, "frame_count": 33, "description": "first look"})
    said["versions"] = sg.find("Version", [["entity.Shot.sg_sequence.Sequence.code", "is", "sq010"]],
                              ["code", "entity", "project", "sg_task", "user", "frame_count", "description",
                               "sg_status_list"])
    said["version_image"] = sg.create("Version", {"code": "sh000_comp_v002", "project": project, "entity": shots[0],
                                                  "image": image})["image"]
    said["attachment"] = sg.upload_thumbnail("Shot", shots[0]["id"], image)
    shot_image = sg.find_one("Shot", [["id", "is", shots[0]["id"]]], ["image"])["image"]
    said["shot_image"] = urllib.request.urlopen(shot_image).read()[:3].hex()
    said["with_image"] = [s["code"] for s in sg.find("Shot", [["image", "is_not", None]], ["code"])]
    sg.update("Shot", shots[0]["id"], {"image": None})
    said["image_cleared"] = sg.find_one("Shot", [["id", "is", shots[0]["id"]]], ["image"])["image"]
    said["version_by_project"] = [v["code"] for v in sg.find("Version", [["project", "is", project]], ["code"])]
    said["deep"] = sg.find("Task", [["entity.Shot.sg_sequence.Sequence.code", "is", "sq010"]],
                           ["content", "entity", "step", "start_date", "entity.Shot.sg_sequence.Sequence.code",
                            "entity.Asset.code"])
    said["nested"] = [s["code"] for s in sg.find("Shot", [
        ["project", "is", project],
        {"filter_operator": "any", "filters": [
            ["code", "ends_with", "4"],
            {"filter_operator": "all", "filters": [["sg_sequence", "is", sequence], ["sg_cut_in", "greater_than", 1001]]},
        ]},
    ], ["code"], order=[{"field_name": "code", "direction": "desc"}])]
    said["operators"] = {
        name: sorted(s["code"] for s in sg.find("Shot", filters, ["code"]))
        for name, filters in {
            "in": [["code", "in", ["sh001", "sh003"]]],
            "not_in": [["code", "not_in", ["sh001", "sh003"]]],
            "contains": [["description", "contains", "shot 2"]],
            "not_contains": [["code", "not_contains", "00"]],
            "starts_with": [["code", "starts_with", "sh00"]],
            "between": [["sg_cut_in", "between", [1002, 1003]]],
            "less_than": [["sg_cut_in", "less_than", 1002]],
            "status": [["sg_status_list", "is", "wtg"], ["sg_sequence", "is", sequence]],
            "id_in": [["id", "in", [shots[1]["id"], shots[2]["id"]]]],
            "id_greater": [["id", "greater_than", shots[3]["id"]]],
            "type_is": [["sg_sequence", "type_is", "Sequence"], ["sg_sequence.Sequence.code", "is", "sq020"]],
            "name_contains": [["sg_sequence", "name_contains", "20"]],
            "link_none": [["sg_sequence", "is", None]],
            "in_last": [["created_at", "in_last", [1, "DAY"]], ["code", "is", "sh000"]],
            "in_calendar_day": [["created_at", "in_calendar_day", 0], ["code", "is", "sh000"]],
            "no_such_id": [["id", "is", 10 ** 9]],
        }.items()
    }
    said["summary"] = sg.summarize("Shot", [["project", "is", project]],
                                   [{"field": "id", "type": "record_count"}, {"field": "description", "type": "count"}],
                                   grouping=[{"field": "sg_sequence", "type": "exact", "direction": "asc"}])
    found = sg.text_search("sh00", {"Shot": [["sg_sequence", "is", sequence]], "Sequence": []}, project_ids=[project["id"]])
    said["text_search"] = [(m["type"], m["name"], m["project_id"], m["status"]) for m in found["matches"]]
    said["page2"] = [s["code"] for s in sg.find("Shot", [], ["code"], order=[{"field_name": "code", "direction": "asc"}],
                                                limit=2, page=2)]
    said["one"] = sg.find_one("Shot", [["code", "is", "sh001"]], ["code", "sg_sequence"])
    said["updated"] = sg.update("Shot", shots[1]["id"], {"code": "sh001b", "sg_status_list": "fin", "sg_cut_in": 2001})
    said["reread"] = sg.find_one("Shot", [["id", "is", shots[1]["id"]]], ["code", "sg_status_list", "sg_cut_in"])
    said["deleted"] = sg.delete("Shot", shots[4]["id"])
    said["after_delete"] = len(sg.find("Shot", [["project", "is", project]]))
    said["retired"] = sg.find("Shot", [], ["code", "sg_sequence"], retired_only=True)
    said["revived"] = [sg.revive("Shot", shots[4]["id"]), sg.revive("Shot", shots[4]["id"])]
    said["after_revive"] = sg.find_one("Shot", [["id", "is", shots[4]["id"]]], ["code", "sg_cut_in", "sg_sequence"])
    said["retired_after_revive"] = sg.find("Shot", [], retired_only=True)
    sg.delete("Shot", shots[4]["id"])
    try:
        sg.batch([{"request_type": "create", "entity_type": "Shot", "data": {"code": "batched", "project": project}},
                  {"request_type": "update", "entity_type": "Shot", "entity_id": shots[0]["id"], "data": {"code": "x"}},
                  {"request_type": "delete", "entity_type": "Shot", "entity_id": 10 ** 9}])
    except shotgun_api3.Fault as error:
        said["batch_failed"] = str(error)
    said["after_failed_batch"] = [len(sg.find("Shot", [["code", "is", "batched"]])),
                                  sg.find_one("Shot", [["id", "is", shots[0]["id"]]], ["code"])["code"]]
    made = sg.batch([{"request_type": "create", "entity_type": "Shot", "data": {"code": "bulk%04d" % i, "project": project,
                                                                                   "sg_sequence": other}}
                     for i in range(620)])
    said["batched"] = [len(made), made[0]["id"] < made[-1]["id"]]
    found = sg.find("Shot", [["code", "starts_with", "bulk"]], ["code"])  # the client pages by itself: 500 a page
    said["paged"] = [len(found), len({s["id"] for s in found})]
    said["limited"] = len(sg.find("Shot", [["code", "starts_with", "bulk"]], ["code"], limit=510))
    for name, call in {"unknown_type": lambda: sg.find("Spaceship", []),
                       "unknown_field": lambda: sg.find("Shot", [["warp", "is", 9]]),
                       "bad_status": lambda: sg.create("Shot", {"code": "s", "project": project, "sg_status_list": "zzz"}),
                       "unserved": lambda: sg.activity_stream_read("Shot", shots[0]["id"])}.items():
        try:
            call()
            said[name] = "answered"
        except shotgun_api3.Fault as error:
            said[name] = str(error)
    events = sg.find("EventLogEntry", [["id", "greater_than", 0]],
                     ["event_type", "attribute_name", "meta", "entity", "user", "project"],
                     order=[{"column": "id", "direction": "asc"}])
    said["events"] = [[e["event_type"], e["attribute_name"], e["entity"]["id"], e["user"], e["project"]["id"]]
                      for e in events if e["entity"]["id"] == shots[1]["id"]]
    said["status_change"] = [e["meta"] for e in events
                             if e["entity"]["id"] == shots[1]["id"] and e["attribute_name"] == "sg_status_list"]
    # Dense, as ShotGrid's event daemon needs: it takes a skipped id for an event still to come.
    said["event_ids_rise"] = [e["id"] for e in events] == list(range(events[0]["id"], events[-1]["id"] + 1))
    last = sg.find_one("EventLogEntry", [], ["id"], order=[{"column": "id", "direction": "desc"}])["id"]
    said["events_resume"] = [last == events[-1]["id"], sg.find("EventLogEntry", [["id", "greater_than", last]])]
    said["schema_types"] = sorted(sg.schema_entity_read())
    said["schema_field"] = sg.schema_field_read("Shot", "sg_sequence")["sg_sequence"]["properties"]["valid_types"]["value"]
    said["schema_read"] = sorted(sg.schema_read()["Task"])
    said["project"] = project["id"]
    print(json.dumps(said, default=str))
    """
)

CREDENTIALS = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key, password = sys.argv[1:4]
    said = {}

    def refused(**credentials):
        try:
            shotgun_api3.Shotgun(url, **credentials).find("Shot", [])
            return "let in"
        except shotgun_api3.AuthenticationFault as error:
            return str(error)

    said["wrong_key"] = refused(script_name="pipeline", api_key="not-the-key")
    said["wrong_script"] = refused(script_name="no-such-script", api_key=key)
    said["wrong_password"] = refused(login="admin", password="not the password")
    said["no_user"] = refused(login="nobody", password=password)
    person = shotgun_api3.Shotgun(url, login="admin", password=password)
    said["person"] = person.find_one("HumanUser", [["login", "is", "admin"]], ["login", "sg_status_list"])
    token = person.get_session_token()
    by_token = shotgun_api3.Shotgun(url, session_token=token)
    said["token"] = by_token.find_one("HumanUser", [["login", "is", "admin"]], ["login"])["login"]
    script = shotgun_api3.Shotgun(url, script_name="pipeline", api_key=key)
    project = script.create("Project", {"name": "Credentials"})
    sudo = shotgun_api3.Shotgun(url, script_name="pipeline", api_key=key, sudo_as_login="jo")
    said["sudo"] = sudo.create("Sequence", {"code": "by-jo", "project": project}, ["created_by"])["created_by"]["name"]
    try:
        shotgun_api3.Shotgun(url, script_name="pipeline", api_key=key, sudo_as_login="nobody").find("Shot", [])
    except shotgun_api3.Fault as error:
        said["sudo_nobody"] = str(error)
    print(json.dumps(said))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    """The database, with a script key ``pipeline`` and a password for ``admin`` and a user ``jo``."""
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "pipeline")
        backend.auth.set_password("admin", PASSWORD)
        made = backend.execute([{"action": "create", "entity_type": "User",
                                 "entity_data": {"username": "jo", "first_name": "Jo"}}], "admin")  # fmt: skip
        assert isinstance(made, list), made
    return database, key


def _run(python, script, *arguments):
    run = subprocess.run([python, "-c", script, *arguments], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_production_made_found_changed_and_batched_through_shotgun_api3(shotgun_python, studio, serve, tmp_path):
    from PIL import Image

    database, key = studio
    image = tmp_path / "thumbnail.png"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(image)
    # Stateless workers on one PostgreSQL, which keeps its files where --storage says.
    options = ("--workers", "2", "--storage", str(tmp_path / "files")) if database.startswith("postgresql") else ()
    with serve(database, *options) as url:
        said = _run(shotgun_python, PRODUCTION, url, key, str(image))
        # Our own Session, over HTTP to the same server (its workers), sees what the script made.
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            seen = session.query("select name, parent.name, status.name from Task where project.full_name is "
                                 "'Coming from ShotGrid' order by name").all()  # fmt: skip
            ours = [(t["name"], t["parent"]["name"], t["status"]["name"]) for t in seen]
            pictured = session.query("select asset.parent.name, thumbnail_id from AssetVersion where "
                                     "asset.parent.name is 'sh000' and thumbnail_id is_not None").all()  # fmt: skip
            ours_pictured = [(v["asset"]["parent"]["name"], v["thumbnail_id"] is not None) for v in pictured]
            sequences = sorted((s["name"], len(s["children"])) for s in session.query(
                "select name, children from Sequence where project.full_name is 'Coming from ShotGrid'").all())
    assert said["version"] >= [7, 4, 0]
    ids = said["ids"]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids)  # integers, counting up as made
    assert said["created"] == {"type": "Shot", "id": ids[3], "code": "sh000", "description": "shot 0", "sg_cut_in": 1001,
                               "project": {"type": "Project", "id": ids[0], "name": "Coming from ShotGrid"},
                               "sg_sequence": {"type": "Sequence", "id": ids[1], "name": "sq010"}}  # fmt: skip
    assert ours == [("comp", "sh000", "Ready to start"), ("roto", "sh003", "In progress")]
    assert ours_pictured == [("sh000", True)]  # the Version made with an image, on its Shot, with its thumbnail
    assert len(said["tasks"]) == 2 and sequences == [("sq010", 3), ("sq020", 621)]  # sh004 retired again; 620 batched
    assert said["task"]["project"]["id"] == ids[0] and said["task"]["entity.Shot.sg_sequence.Sequence.code"] == "sq010"
    (version,) = said["versions"]
    assert version["code"] == "sh000_comp_v001" and version["entity"] == {"type": "Shot", "id": ids[3], "name": "sh000"}
    assert version["project"]["id"] == ids[0] and version["sg_task"]["name"] == "comp" and version["user"]["name"] == "Studio Admin"
    assert version["frame_count"] == 33 and version["description"] == "first look" and version["sg_status_list"] == "rev"
    assert said["version_by_project"] == ["sh000_comp_v001", "sh000_comp_v002"]
    assert "/component/thumbnail?id=" in said["version_image"] and isinstance(said["attachment"], int)
    assert said["shot_image"] == "89504e"  # the image served back: a PNG's thumbnail is a PNG, as ftrack's server makes it
    assert said["with_image"] == ["sh000"] and said["image_cleared"] is None
    (deep,) = said["deep"]
    assert deep["content"] == "comp" and deep["entity"] == {"type": "Shot", "id": ids[3], "name": "sh000"}
    assert deep["step"]["name"] == "Compositing" and deep["start_date"] == "2024-05-01"
    assert deep["entity.Shot.sg_sequence.Sequence.code"] == "sq010" and deep["entity.Asset.code"] is None
    assert said["nested"] == ["sh004", "sh002", "sh001"]
    assert said["operators"] == {
        "in": ["sh001", "sh003"], "not_in": ["sh000", "sh002", "sh004"], "contains": ["sh002"], "not_contains": [],
        "starts_with": ["sh000", "sh001", "sh002", "sh003", "sh004"], "between": ["sh001", "sh002"],
        "less_than": ["sh000"], "status": ["sh000", "sh001", "sh002"], "id_in": ["sh001", "sh002"],
        "id_greater": ["sh004"], "type_is": ["sh003", "sh004"], "name_contains": ["sh003", "sh004"], "link_none": [],
        "in_last": ["sh000"], "in_calendar_day": ["sh000"], "no_such_id": [],
    }  # fmt: skip
    assert said["summary"] == {"summaries": {"id": 5, "description": 5}, "groups": [
        {"group_name": "sq010", "group_value": {"type": "Sequence", "id": ids[1], "name": "sq010"},
         "summaries": {"id": 3, "description": 3}},
        {"group_name": "sq020", "group_value": {"type": "Sequence", "id": ids[2], "name": "sq020"},
         "summaries": {"id": 2, "description": 2}}]}  # fmt: skip
    assert said["text_search"] == [["Shot", f"sh00{i}", ids[0], "wtg"] for i in range(3)]
    assert said["page2"] == ["sh002", "sh003"]
    assert said["one"]["sg_sequence"]["name"] == "sq010"
    assert said["updated"] == {"type": "Shot", "id": ids[4], "code": "sh001b", "sg_status_list": "fin", "sg_cut_in": 2001}
    assert said["reread"] == said["updated"]
    assert said["deleted"] is True and said["after_delete"] == 4
    assert said["retired"] == [{"type": "Shot", "id": ids[7], "code": "sh004", "sg_sequence": None}]
    assert said["revived"] == [True, False] and said["retired_after_revive"] == []
    assert said["after_revive"] == {"type": "Shot", "id": ids[7], "code": "sh004", "sg_cut_in": 1005,
                                    "sg_sequence": {"type": "Sequence", "id": ids[2], "name": "sq020"}}  # fmt: skip
    assert said["batch_failed"].startswith(f"Request 2 (delete Shot {10 ** 9}) failed, nothing of the batch was stored")
    assert said["after_failed_batch"] == [0, "sh000"]
    assert said["batched"] == [620, True] and said["paged"] == [620, 620] and said["limited"] == 510
    assert said["unknown_type"].startswith("Entity type 'Spaceship' doesn't exist")
    assert said["unknown_field"] == "Shot.warp doesn't exist"
    assert "'zzz' is not a status code" in said["bad_status"]
    assert "'activity_stream' is not served" in said["unserved"]
    assert {"Project", "Sequence", "Shot", "Asset", "Task", "Step", "HumanUser", "Note", "EventLogEntry"} <= set(said["schema_types"])
    script = {"type": "ApiUser", "id": said["events"][0][3]["id"], "name": "pipeline"}
    assert isinstance(script["id"], int) and said["events"] == [
        ["Shotgun_Shot_New", None, ids[4], script, ids[0]],
        ["Shotgun_Shot_Change", "code", ids[4], script, ids[0]],
        ["Shotgun_Shot_Change", "sg_status_list", ids[4], script, ids[0]]]  # fmt: skip
    assert said["status_change"] == [{"type": "attribute_change", "attribute_name": "sg_status_list", "entity_type": "Shot",
                                      "entity_id": ids[4], "field_data_type": "status_list", "old_value": "wtg",
                                      "new_value": "fin", "in_create": False}]  # fmt: skip
    assert said["event_ids_rise"] is True and said["events_resume"] == [True, []]
    assert said["schema_field"] == ["Sequence"] and {"content", "entity", "step", "sg_status_list"} <= set(said["schema_read"])
    # Our own engine holds the same production, under ftrack's names.
    with Backend.from_url(database) as backend:
        answer = backend.execute([{"action": "query", "expression": "select name, parent.name, status.name from Shot "
                                   "where project.full_name is 'Coming from ShotGrid' and name like 'sh%' order by name",
                                   "compact": True}],
                                 "admin")  # fmt: skip
        rows = placed(backend.schema, answer[0])  # the compact form: each entity once, a reference its place
        assert [(r["name"], r["parent"]["name"], r["status"]["name"]) for r in rows] == [
            ("sh000", "sq010", "Not started"), ("sh001b", "sq010", "Completed"), ("sh002", "sq010", "Not started"),
            ("sh003", "sq020", "Not started")]  # fmt: skip
        versions = backend.execute([{"action": "query", "expression": "select comment, asset.parent.name, task.name, "
                                     "metadata.key, metadata.value from AssetVersion where task_id is_not None",
                                     "compact": True}], "admin")[0]  # fmt: skip
        assert [(v["comment"], v["asset"]["parent"]["name"], v["task"]["name"],
                 sorted((m["key"], m["value"]) for m in v["metadata"])) for v in placed(backend.schema, versions)] == [
            ("first look", "sh000", "comp", [("code", "sh000_comp_v001"), ("frame_count", "33")])]  # fmt: skip
        events = backend.events.read(0, limit=10_000)
        keyed = [e for e in events if e.topic == "ftrack.update" and (e.source or {}).get("apiKey")]
        assert keyed and all(e.source["apiKey"]["name"] == "pipeline" for e in keyed)


def test_scripts_people_tokens_and_sudo_through_shotgun_api3(shotgun_python, studio, serve):
    database, key = studio
    with serve(database) as url:
        said = _run(shotgun_python, CREDENTIALS, url, key, PASSWORD)
    refusal = "Authentication failed: the credentials were not accepted"
    assert said["wrong_key"] == said["wrong_script"] == said["wrong_password"] == said["no_user"] == refusal
    assert said["person"] == {"type": "HumanUser", "id": said["person"]["id"], "login": "admin", "sg_status_list": "act"}
    assert said["token"] == "admin"
    assert said["sudo"] == "Jo"  # a HumanUser link is named by the name, as ShotGrid names it
    assert said["sudo_nobody"] == "sudo_as_login: no user 'nobody'"


def test_the_docs_fixture_replacing_mockgun_runs(shotgun_python, tmp_path):
    """docs/howto/shotgrid.rst's pytest fixture, as written, with shotgun_api3 beside our package."""
    import os
    import pathlib
    import sys

    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "howto" / "shotgrid.rst").read_text()
    section = page.split("Instead of mockgun, in tests")[1].split("What maps to what")[0]
    code = textwrap.dedent(section.split(".. code-block:: python\n")[1])
    (tmp_path / "test_fixture.py").write_text(code)
    found = subprocess.run([shotgun_python, "-c", "import os, shotgun_api3; print(os.path.dirname(os.path.dirname("
                            "shotgun_api3.__file__)))"], capture_output=True, text=True, check=True)  # fmt: skip
    client = found.stdout.strip()  # shotgun_api3 is pure Python: its site-packages on our path is enough
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([client, *sys.path])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                          str(tmp_path / "test_fixture.py")], capture_output=True, text=True, timeout=300,
                         env=environment, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout
