"""What shotgun_api3's own suite asked that was not served: a HumanUser's ``projects`` (our project
grants) and links to a HumanUser named by the person's name; ShotGrid's stock Version statuses
(``na``, ``vwd``); a Task with no ``content``; summaries
of a field kept in metadata (``Shot.sg_cut_duration``); the ``LATEST`` filter preset.

Through the client, unchanged, against ``ftrack-like serve`` on SQLite and PostgreSQL.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

#: Minutes long: started first when the suite runs on several workers (tests/conftest.py).
pytestmark = pytest.mark.long

NO_CONTENT = textwrap.dedent(
    """
    import datetime, json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Blank tasks"})
    shot = sg.create("Shot", {"code": "sh010", "project": project})
    bare = sg.create("Task", {"project": project, "start_date": datetime.date(2024, 5, 6)}, ["content", "sg_status_list"])
    said["bare"] = bare
    named = sg.create("Task", {"project": project, "entity": shot, "content": "comp"})
    said["none_given"] = sg.create("Task", {"project": project, "entity": shot, "content": None}, ["content"])["content"]
    said["blank_given"] = sg.create("Task", {"project": project, "entity": shot, "content": "  "}, ["content"])["content"]
    said["without"] = sorted(t["id"] for t in sg.find("Task", [["project", "is", project], ["content", "is", None]]))
    said["with"] = [t["id"] for t in sg.find("Task", [["project", "is", project], ["content", "is_not", None]])]
    sg.update("Task", bare["id"], {"content": "layout"})
    said["named_later"] = sg.find_one("Task", [["id", "is", bare["id"]]], ["content"])["content"]
    sg.update("Task", bare["id"], {"content": None})
    said["cleared"] = sg.find_one("Task", [["id", "is", bare["id"]]], ["content"])["content"]
    version = sg.create("Version", {"project": project, "code": "v001", "sg_task": bare}, ["sg_task"])
    said["link_name"] = version["sg_task"]
    said["ids"] = {"bare": bare["id"], "named": named["id"]}
    print(json.dumps(said))
    """
)


PROJECTS = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=key)
    said = {}
    first = sg.create("Project", {"name": "Granted one"})
    second = sg.create("Project", {"name": "Granted two"})
    user = sg.create("HumanUser", {"name": "Sg unittest human", "login": "sgunittesthuman",
                                   "password_proxy": "human password"}, ["projects"])
    said["made"] = user["projects"]
    sg.update("HumanUser", user["id"], {"projects": [first]})
    read = lambda: sorted(p["id"] for p in sg.find_one("HumanUser", [["id", "is", user["id"]]], ["projects"])["projects"])
    said["set"] = read()
    sg.update("HumanUser", user["id"], {"projects": [second]}, multi_entity_update_modes={"projects": "add"})
    said["added"] = read()
    sg.update("HumanUser", user["id"], {"projects": [second]}, multi_entity_update_modes={"projects": "remove"})
    said["removed"] = read()
    sudo = shotgun_api3.Shotgun(url, script_name="suite", api_key=key, sudo_as_login="sgunittesthuman")
    version = sudo.create("Version", {"project": first, "code": "by the human", "user": user, "sg_status_list": "na"},
                          ["created_by", "user", "sg_status_list"])  # as test_user_is_creator makes it
    said["created_by"], said["user"], said["na"] = version["created_by"], version["user"], version["sg_status_list"]
    said["viewed"] = sg.update("Version", version["id"], {"sg_status_list": "vwd"})["sg_status_list"]
    said["by_status"] = [v["code"] for v in sg.find("Version", [["sg_status_list", "in", ["vwd", "na"]]], ["code"])]
    try:
        sudo.create("Shot", {"project": second, "code": "not granted"})
    except shotgun_api3.Fault as fault:
        said["outside"] = str(fault)
    person = shotgun_api3.Shotgun(url, login="sgunittesthuman", password="human password")
    said["sees"] = [p["id"] for p in person.find("Project", [["id", "in", [first["id"], second["id"]]]])]
    try:
        person.update("HumanUser", user["id"], {"projects": []})
    except shotgun_api3.Fault as fault:
        said["own_grants"] = str(fault)
    logins = lambda filters: sorted(u["login"] for u in sg.find("HumanUser", filters, ["login"]))
    said["filtered"] = {name: logins(filters) for name, filters in {
        "is": [["projects", "is", first]], "is_other": [["projects", "is", second]],
        "in": [["projects", "in", [second, first]]], "is_not": [["projects", "is_not", first]],
        "none": [["projects", "is", None]], "some": [["projects", "is_not", None]],
        "type_is": [["projects", "type_is", "Project"]], "type_is_other": [["projects", "type_is", "Shot"]],
        "deep": [["login", "is", "sgunittesthuman"], ["projects", "is", first]],
    }.items()}
    try:
        sg.find("HumanUser", [["projects", "contains", "x"]])
    except shotgun_api3.Fault as fault:
        said["filtered_refused"] = str(fault)
    said["admin_links"] = sg.find_one("Project", [["id", "is", first["id"]]], ["created_by"])["created_by"]["name"]
    said["ids"] = {"first": first["id"], "second": second["id"], "user": user["id"]}
    print(json.dumps(said))
    """
)


SUMMARIES = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=key)
    project = sg.create("Project", {"name": "Cut"})
    for code, status, duration in (("a", "ip", 100), ("b", "ip", 50), ("c", "fin", 100), ("d", "wtg", 0), ("e", "wtg", None)):
        sg.create("Shot", {"code": "cut " + code, "sg_status_list": status, "sg_cut_duration": duration, "project": project})
    said = {}
    positive = [["project", "is", project], ["sg_cut_duration", "greater_than", 0]]
    said["read"] = sorted(s["sg_cut_duration"] for s in sg.find("Shot", positive, ["sg_cut_duration"]))
    said["by_status"] = sg.summarize("Shot", [["project", "is", project], ["code", "starts_with", "cut"]],
                                     [{"field": "id", "type": "count"}, {"field": "sg_cut_duration", "type": "sum"}],
                                     grouping=[{"direction": "asc", "field": "sg_status_list", "type": "exact"}])
    cut = [["project", "is", project]]
    summaries = [{"field": "id", "type": "count"}, {"field": "sg_cut_duration", "type": "sum"}]
    said["by_duration"] = sg.summarize("Shot", cut, summaries, grouping=[{"field": "sg_cut_duration", "type": "exact",
                                                                         "direction": "asc"}])
    said["by_status_duration"] = sg.summarize("Shot", cut, [{"field": "id", "type": "count"}], grouping=[
        {"field": "sg_status_list", "type": "exact", "direction": "asc"},
        {"field": "sg_cut_duration", "type": "exact", "direction": "desc"}])
    said["by_duration_status"] = sg.summarize("Shot", cut + [["sg_cut_duration", "greater_than", 0]],
                                              [{"field": "id", "type": "count"}], grouping=[
        {"field": "sg_cut_duration", "type": "exact", "direction": "asc"},
        {"field": "sg_status_list", "type": "exact", "direction": "asc"}])
    said["others"] = {t: sg.summarize("Shot", [["project", "is", project]], [{"field": "sg_cut_duration", "type": t}])
                      ["summaries"]["sg_cut_duration"] for t in ("maximum", "minimum", "average", "count")}
    print(json.dumps(said))
    """
)


LATEST = textwrap.dedent(
    """
    import json, sys, time
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=key)
    project = sg.create("Project", {"name": "Latest"})
    shots = [sg.create("Shot", {"code": code, "project": project}) for code in ("sh010", "sh020")]
    made = {}
    for shot in shots:
        for n in (1, 2, 3):
            made[(shot["code"], n)] = sg.create("Version", {"project": project, "entity": shot, "code": "%s v%d" % (shot["code"], n)})["id"]
            time.sleep(1.1)  # created_at is kept to the second
    latest = [{"preset_name": "LATEST", "latest_by": "ENTITIES_CREATED_AT"}]
    said = {"made": {"%s %d" % k: v for k, v in made.items()}}
    said["all"] = sorted(v["code"] for v in sg.find("Version", [["project", "is", project]], ["code"], additional_filter_presets=latest))
    said["early"] = [v["code"] for v in sg.find("Version", [["code", "in", ["sh010 v1", "sh010 v2", "sh020 v1"]]], ["code"],
                                                additional_filter_presets=latest)]
    said["one"] = sg.find_one("Version", [["code", "is", "sh020 v3"]], ["code"], additional_filter_presets=latest)["code"]
    steps = {s["code"]: s for s in sg.find("Step", [["code", "in", ["Layout", "Animation", "Compositing"]]], ["code", "list_order"])}
    said["orders"] = [steps[c]["list_order"] for c in ("Layout", "Animation", "Compositing")]
    by_step = [{"preset_name": "LATEST", "latest_by": "BY_PIPELINE_STEP_NUMBER_AND_ENTITIES_CREATED_AT"}]
    other = sg.create("Project", {"name": "Latest by step"})
    for code, made_with in (("sh030", ["Compositing", "Layout", None]), ("sh040", ["Animation", "Animation", "Layout"]),
                            ("sh050", [None, None])):
        shot = sg.create("Shot", {"code": code, "project": other})
        for n, step in enumerate(made_with, 1):
            task = sg.create("Task", {"content": "t%d" % n, "entity": shot, "step": steps[step]}) if step else None
            sg.create("Version", {"project": other, "entity": shot, "code": "%s v%d" % (code, n), "sg_task": task})
            time.sleep(1.1)
    said["by_step"] = sorted(v["code"] for v in sg.find("Version", [["project", "is", other]], ["code"],
                                                        additional_filter_presets=by_step))
    said["by_step_narrowed"] = sorted(v["code"] for v in sg.find("Version", [["code", "ends_with", "v2"], ["project", "is", other]],
                                                                 ["code"], additional_filter_presets=by_step))
    try:
        sg.find("Version", [], additional_filter_presets=[{"preset_name": "LATEST",
                                                           "latest_by": "PIPELINE_STEP_NUMBER_AND_ENTITIES_CREATED_AT"}])
    except shotgun_api3.Fault as fault:
        said["misspelt"] = str(fault)
    print(json.dumps(said))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    """The database, with a script key ``suite``."""
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "suite")
    return database, key


def run(shotgun_python, serve, database, key, script):
    with serve(database) as url:
        done = subprocess.run([shotgun_python, "-c", script, url, key], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_task_with_no_content_reads_back_none_and_keeps_a_name_for_ftracks_api(shotgun_python, studio, serve):
    database, key = studio
    said = run(shotgun_python, serve, database, key, NO_CONTENT)
    ids = said["ids"]
    assert said["bare"]["content"] is None and said["bare"]["type"] == "Task"
    assert said["none_given"] is None and said["blank_given"] is None
    assert len(said["without"]) == 3 and ids["bare"] in said["without"] and said["with"] == [ids["named"]]
    assert said["named_later"] == "layout" and said["cleared"] is None
    assert said["link_name"] == {"type": "Task", "id": ids["bare"], "name": None}
    with Backend.from_url(database) as backend:  # ftrack's API sees a named task
        answer = backend.execute([{"action": "query", "expression": 'select name from Task where project.name is "Blank tasks"'}],
                                 "admin")  # fmt: skip
        assert sorted(r["name"] for r in answer[0]["data"]) == ["(no content)"] * 3 + ["comp"]


def test_a_humanusers_projects_are_its_project_grants_and_a_link_to_it_is_named_by_its_name(shotgun_python, studio, serve):
    database, key = studio
    said = run(shotgun_python, serve, database, key, PROJECTS)
    ids = said["ids"]
    assert said["made"] == []
    assert said["set"] == [ids["first"]] and said["added"] == sorted([ids["first"], ids["second"]])
    assert said["removed"] == [ids["first"]]
    human = {"type": "HumanUser", "id": ids["user"], "name": "Sg unittest human"}
    assert said["created_by"] == human and said["user"] == human  # test_user_is_creator
    assert said["na"] == "na" and said["viewed"] == "vwd" and said["by_status"] == ["by the human"]  # ShotGrid's stock statuses
    assert "outside" in said and said["sees"] == [ids["first"]]  # granted one project: sees and writes it only
    others = ["admin"]  # granted no project: it sees them all, and lists none
    assert said["filtered"] == {"is": ["sgunittesthuman"], "is_other": [], "in": ["sgunittesthuman"], "is_not": others,
                                "none": others, "some": ["sgunittesthuman"], "type_is": ["sgunittesthuman"],
                                "type_is_other": [], "deep": ["sgunittesthuman"]}  # as its projects read  # fmt: skip
    assert "HumanUser.projects contains: the relation 'contains' is not served" in said["filtered_refused"]
    assert "administrators" in said["own_grants"]
    assert said["admin_links"] == "Studio Admin"  # its first and last names, not its login
    with Backend.from_url(database) as backend:  # the grant the command line shows
        assert backend.auth.role(str(ids_of(backend, "sgunittesthuman"))) == "user on Granted one"
        answer = backend.execute([{"action": "query", "expression": "select status.name from AssetVersion where "
                                   'asset.parent.full_name is "Granted one"'}], "admin")  # fmt: skip
        assert [v["status"]["name"] for v in answer[0]["data"]] == ["Viewed"]  # one of ours, for ftrack's API too


def ids_of(backend, username):
    answer = backend.execute([{"action": "query", "expression": f'select id from User where username is "{username}"'}], "admin")
    return answer[0]["data"][0]["id"]


def test_summaries_of_a_field_kept_in_metadata_through_shotgun_api3(shotgun_python, studio, serve):
    database, key = studio
    said = run(shotgun_python, serve, database, key, SUMMARIES)
    assert said["read"] == [50, 100, 100]
    summary = said["by_status"]
    assert summary["summaries"] == {"id": 5, "sg_cut_duration": 250}
    assert [(g["group_name"], g["summaries"]) for g in summary["groups"]] == [
        ("fin", {"id": 1, "sg_cut_duration": 100}), ("ip", {"id": 2, "sg_cut_duration": 150}),
        ("wtg", {"id": 2, "sg_cut_duration": 0})]  # fmt: skip
    # Grouped by a field kept in metadata: numbers in order, the group of the shots with none last.
    assert [(g["group_name"], g["group_value"], g["summaries"]) for g in said["by_duration"]["groups"]] == [
        (0, 0, {"id": 1, "sg_cut_duration": 0}), (50, 50, {"id": 1, "sg_cut_duration": 50}),
        (100, 100, {"id": 2, "sg_cut_duration": 200}), (None, None, {"id": 1, "sg_cut_duration": None})]  # fmt: skip
    assert said["by_duration"]["summaries"] == {"id": 5, "sg_cut_duration": 250}
    nested = said["by_status_duration"]["groups"]
    assert [(g["group_name"], g["summaries"]["id"], [(d["group_name"], d["summaries"]["id"]) for d in g["groups"]])
            for g in nested] == [("fin", 1, [(100, 1)]), ("ip", 2, [(100, 1), (50, 1)]),
                                 ("wtg", 2, [(None, 1), (0, 1)])]  # desc: none first  # fmt: skip
    assert [(g["group_name"], [(d["group_name"], d["summaries"]["id"]) for d in g["groups"]])
            for g in said["by_duration_status"]["groups"]] == [(50, [("ip", 1)]), (100, [("fin", 1), ("ip", 1)])]
    assert said["others"] == {"maximum": 100, "minimum": 0, "average": 62.5, "count": 4}  # four have a value


def test_the_latest_preset_keeps_each_entitys_latest_version(shotgun_python, studio, serve):
    database, key = studio
    said = run(shotgun_python, serve, database, key, LATEST)
    assert said["all"] == ["sh010 v3", "sh020 v3"]
    assert sorted(said["early"]) == ["sh010 v2", "sh020 v1"]  # the latest of each shot among those found
    assert said["one"] == "sh020 v3"
    assert said["orders"] == sorted(said["orders"])  # Step.list_order: our types' order, the pipeline's
    # The furthest step of each shot's versions, then the latest; a version with no task before any step.
    assert said["by_step"] == ["sh030 v1", "sh040 v2", "sh050 v2"]
    assert said["by_step_narrowed"] == ["sh030 v2", "sh040 v2", "sh050 v2"]  # among those the filters find
    assert "LATEST by 'PIPELINE_STEP_NUMBER_AND_ENTITIES_CREATED_AT' is not served" in said["misspelt"]
