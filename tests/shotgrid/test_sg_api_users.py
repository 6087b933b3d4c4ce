"""``ApiUser``: our named API keys as ShotGrid's scripts, found with ShotGrid's filters (one SQL statement over
the key table), read-only, and the ``user`` of a script's EventLogEntry rows, which a filter on it finds.

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

    url, suite, pipeline = sys.argv[1:4]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=suite)
    tool = shotgun_api3.Shotgun(url, script_name="pipeline", api_key=pipeline)
    said = {}
    fields = ["firstname", "lastname", "email", "created_at", "created_by", "description"]
    said["all"] = sg.find("ApiUser", [], fields, order=[{"field_name": "firstname", "direction": "asc"}])
    said["one"] = sg.find_one("ApiUser", [["firstname", "is", "pipeline"]], ["firstname"])
    said["starts"] = [u["firstname"] for u in sg.find("ApiUser", [["firstname", "starts_with", "PIPE"]], ["firstname"])]
    said["or"] = sorted(u["firstname"] for u in sg.find("ApiUser", [], ["firstname"], filter_operator="any") )
    said["any"] = sorted(u["firstname"] for u in sg.find("ApiUser", [{"filter_operator": "any", "filters": [
        ["firstname", "ends_with", "ite"], ["firstname", "contains", "peli"]]}], ["firstname"]))
    ids = {u["firstname"]: u["id"] for u in said["all"]}
    said["by_id"] = [u["firstname"] for u in sg.find("ApiUser", [["id", "in", [ids["pipeline"]]]], ["firstname"])]
    said["greater"] = [u["firstname"] for u in sg.find("ApiUser", [["id", "greater_than", ids["suite"]]], ["firstname"])]
    said["owner"] = [u["firstname"] for u in sg.find("ApiUser", [["created_by", "is", said["all"][0]["created_by"]]],
                                                    ["firstname"], order=[{"field_name": "id", "direction": "desc"}])]
    said["retired"] = [u["firstname"] for u in sg.find("ApiUser", [], ["firstname"], retired_only=True)]
    said["paged"] = [len(sg.find("ApiUser", [], limit=1, page=p)) for p in (1, 2, 3)]
    project = tool.create("Project", {"name": "Scripted"})
    shot = tool.create("Shot", {"project": project, "code": "sh010"})
    sg.update("Shot", shot["id"], {"description": "by the suite"})
    mine = sg.find("EventLogEntry", [["user", "is", {"type": "ApiUser", "id": ids["pipeline"]}]],
                   ["event_type", "user"], order=[{"field_name": "id", "direction": "asc"}])
    said["events"] = [(e["event_type"], e["user"]) for e in mine]
    theirs = sg.find("EventLogEntry", [["user", "is", {"type": "ApiUser", "id": ids["suite"]}]], ["event_type"])
    said["suite_events"] = [e["event_type"] for e in theirs]
    for attempt, call in (("create", lambda: sg.create("ApiUser", {"firstname": "mine"})),
                          ("update", lambda: sg.update("ApiUser", ids["suite"], {"firstname": "x"})),
                          ("delete", lambda: sg.delete("ApiUser", ids["suite"])),
                          ("relation", lambda: sg.find("ApiUser", [["firstname", "greater_than", "a"]])),
                          ("field", lambda: sg.find("ApiUser", [["salted_password", "is", "a"]])),
                          ("event_user", lambda: sg.find("EventLogEntry", [["user", "is", {"type": "Shot", "id": 1}]]))):
        try:
            call()
            said[attempt] = None
        except shotgun_api3.Fault as fault:
            said[attempt] = str(fault)
    print(json.dumps(said, default=str))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    """The database, with the scripts ``suite`` and ``pipeline`` (a key rotated: one script) and ``old`` (revoked)."""
    with Backend.from_url(database) as backend:
        suite = backend.auth.create_key("admin", "suite")
        backend.auth.create_key("admin", "pipeline")
        backend.auth.revoke("admin", "pipeline")
        pipeline = backend.auth.create_key("admin", "pipeline")
        backend.auth.create_key("admin", "old")
        backend.auth.revoke("admin", "old")
    return database, suite, pipeline


def test_scripts_are_api_users_found_with_shotgrids_filters_and_named_by_their_events(shotgun_python, studio, serve):
    database, suite, pipeline = studio
    with serve(database) as url:
        done = subprocess.run([shotgun_python, "-c", SCRIPT, url, suite, pipeline], capture_output=True, text=True,
                              timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    everyone = said["all"]
    assert [u["firstname"] for u in everyone] == ["pipeline", "suite"]  # old's keys are all revoked: retired
    assert {u["type"] for u in everyone} == {"ApiUser"} and all(isinstance(u["id"], int) for u in everyone)
    assert everyone[0]["created_by"]["type"] == "HumanUser" and everyone[0]["lastname"] is None
    assert everyone[0]["created_at"].startswith("20")  # a datetime, as the client reads date_time fields
    ids = {u["firstname"]: u["id"] for u in everyone}
    assert said["one"] == {"type": "ApiUser", "id": ids["pipeline"], "firstname": "pipeline"}
    assert said["starts"] == ["pipeline"] and said["any"] == ["pipeline", "suite"]
    assert said["by_id"] == ["pipeline"]
    assert said["greater"] == (["pipeline"] if ids["pipeline"] > ids["suite"] else [])
    assert said["owner"] == [name for name, _ in sorted(ids.items(), key=lambda item: -item[1])]
    assert said["retired"] == ["old"] and said["paged"] == [1, 1, 0]
    # The script's changes, and only its: their user is the ApiUser find answered.
    assert said["events"] and {tuple(user.items()) for _, user in said["events"]} == {
        (("type", "ApiUser"), ("id", ids["pipeline"]), ("name", "pipeline"))}
    assert {kind for kind, _ in said["events"]} == {"Shotgun_Project_New", "Shotgun_Shot_New"}
    assert said["suite_events"] == ["Shotgun_Shot_Change"]
    for attempt in ("create", "update", "delete"):
        assert "ApiUser is read-only here" in said[attempt]
    assert "greater_than" in said["relation"] and "ApiUser.salted_password" in said["field"]
    assert "HumanUser or ApiUser" in said["event_user"]
