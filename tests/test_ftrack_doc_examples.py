"""ftrack's documentation examples, run with the official client against our server (issue 19).

The examples of ftrack-python's ``doc/`` (v3.0.0: the querying page, working with entities,
the example pages) as a user coming from ftrack copies them, transcribed here as one script
per theme (benchmarks/ftrack_doc_examples.py runs the pages themselves). Each runs in the
official client's own venv (see ``official_python`` in conftest.py) against a real server on
127.0.0.1, on SQLite and on PostgreSQL.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.demo import serving  # noqa: E402 - the backend-serving helper the demo uses
from ftrack_like_api.server import Backend  # noqa: E402

START = textwrap.dedent(
    """
    import json, sys, uuid
    import arrow
    import ftrack_api

    server, user, key = sys.argv[1:4]
    said = {}
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=False,
                                 schema_cache_path=False)
    name = "docs-" + uuid.uuid4().hex[:6]
    project = session.create("Project", {"name": name, "full_name": name,
                                         "project_schema": session.query('ProjectSchema where name is "VFX"').one()})
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    task = session.create("Task", {"name": "comp", "parent": shot})
    session.commit()
    """
)

# workflow_schema.rst: a whole project schema from ftrack's stock statuses, types and object types.
WORKFLOW_SCHEMA = START + textwrap.dedent(
    """
    def one(kind, value):
        return session.query('{} where name="{}"'.format(kind, value)).one()

    not_started, in_progress, completed, on_hold = (one("Status", n) for n in ("Not started", "In progress",
                                                                            "Completed", "On Hold"))
    statuses = [not_started, in_progress, completed, on_hold]
    generic, modeling, rigging, deliverable, character = (one("Type", n) for n in ("Generic", "Modeling", "Rigging",
                                                                                   "Deliverable", "Character"))
    types = [generic, modeling, rigging, deliverable, character]
    workflow = session.create("WorkflowSchema")
    versions = session.create("WorkflowSchema")
    for made in (workflow, versions):
        for status in statuses:
            session.create("WorkflowSchemaStatus", {"workflow_schema_id": made["id"], "status_id": status["id"]})
    task_types = session.create("TaskTypeSchema")
    for kind in types:
        session.create("TaskTypeSchemaType", {"task_type_schema_id": task_types["id"], "type_id": kind["id"]})
    schema = session.create("ProjectSchema", {"name": "My custom schema " + name,
                                              "task_workflow_schema_id": workflow["id"],
                                              "task_type_schema_id": task_types["id"],
                                              "asset_version_workflow_schema_id": versions["id"]})
    for object_type, only_statuses, only_types in [
            (one("ObjectType", "Shot"), None, None),
            (one("ObjectType", "Asset Build"), [in_progress, completed, on_hold], [generic, character])]:
        session.create("ProjectSchemaObjectType", {"project_schema_id": schema["id"], "object_type_id": object_type["id"]})
        item = session.create("Schema", {"project_schema_id": schema["id"], "object_type_id": object_type["id"]})
        for status in only_statuses or statuses:
            session.create("SchemaStatus", {"schema_id": item["id"], "status_id": status["id"]})
        for kind in only_types or types:
            session.create("SchemaType", {"schema_id": item["id"], "type_id": kind["id"]})
    override = session.create("WorkflowSchema", {"name": "My schema deliverable override"})
    for status in (in_progress, completed):
        session.create("WorkflowSchemaStatus", {"workflow_schema_id": override["id"], "status_id": status["id"]})
    session.create("ProjectSchemaOverride", {"project_schema_id": schema["id"], "type_id": deliverable["id"],
                                             "workflow_schema_id": override["id"]})
    session.commit()
    said["asset_build_statuses"] = sorted(s["name"] for s in schema.get_statuses("AssetBuild"))
    said["deliverable_statuses"] = sorted(s["name"] for s in schema.get_statuses("Task", deliverable["id"]))
    said["roles"] = [r["name"] for r in session.query('SecurityRole where name is "Project Manager"')]
    said["pending"] = session.query('Status where name is "Pending"').one()["state"]["short"]
    print(json.dumps(said))
    """
)

# group_by.rst, custom_attribute*.rst, manage_custom_attribute_configuration.rst.
CUSTOM_ATTRIBUTES = START + textwrap.dedent(
    """
    session.create("Task", {"name": "anim", "parent": shot})
    session.commit()
    answer = session.call([{"action": "query",
                            "expression": "select count(id) from Task where project_id is '{}' "
                                          "group by project_id, status_id".format(project["id"])}])
    status_lookup = {s["id"]: s["name"] for s in session.query("select id, name from Status")}
    said["group_by"] = ['{} Tasks are "{}"'.format(row["count_id"], status_lookup[row["status_id"]])
                        for row in answer[0]["data"] if row["project_id"] == project["id"]]

    number = session.query('CustomAttributeType where name is "number"').one()
    shot_type = session.query('ObjectType where name is "Shot"').one()
    session.create("CustomAttributeConfiguration", {"entity_type": "task", "object_type_id": shot_type["id"],
                                                    "type": number, "label": "Start", "key": "fstart_" + name,
                                                    "default": 1001, "config": json.dumps({})})
    session.commit()
    shot["custom_attributes"]["fstart_" + name] = "test"
    try:
        session.commit()
        said["wrong_type"] = "stored"
    except ftrack_api.exception.ServerError as error:
        said["wrong_type"] = "Custom attribute value for" in str(error) and "must be of type number" in str(error)
        session.rollback()
    again = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=False,
                               schema_cache_path=False)
    said["kept"] = again.get("Shot", shot["id"])["custom_attributes"]["fstart_" + name]

    security_role = session.query("SecurityRole").first()
    date = session.query('CustomAttributeType where name is "date"').first()
    made = session.create("CustomAttributeConfiguration", {
        "entity_type": "assetversion", "type": date, "label": "Date attribute", "key": "date_attribute_" + name,
        "default": arrow.Arrow(2017, 2, 8),
        "write_security_roles": [security_role], "read_security_roles": [security_role]})
    session.commit()
    said["date_default"] = again.get("CustomAttributeConfiguration", made["id"])["default"].format("YYYY-MM-DD")

    text = session.query('CustomAttributeType where name is "text"').one()
    try:
        session.create("CustomAttributeConfiguration", {"entity_type": "task", "object_type_id": shot_type["id"],
                                                        "type": text, "label": "Again", "key": "fstart_" + name})
        session.commit()
        said["duplicate"] = "accepted"
    except ftrack_api.exception.ServerError as error:
        said["duplicate"] = "exists already" in str(error)
        session.rollback()

    task_type = session.query('ObjectType where name is "Task"').one()
    link = session.create("CustomAttributeLinkConfiguration", {
        "entity_type": "task", "object_type_id": task_type["id"], "entity_type_to": "user", "label": "Supervisor",
        "key": "supervisor_" + name, "config": "{}", "one_to_one": True,
        "write_security_roles": [security_role], "read_security_roles": [security_role]})
    session.commit()
    me = session.query('User where username is "{}"'.format(user)).one()
    session.create("CustomAttributeLink", {"from_id": task["id"], "to_id": me["id"], "configuration_id": link["id"]})
    session.commit()
    said["link"] = [value["to_id"] == me["id"] for value in session.query(
        'select to_id from CustomAttributeLink where configuration.key = "supervisor_{}" and from_id = "{}"'
        .format(name, task["id"]))]
    said["by_user"] = [found["name"] for found in session.query(  # the page's first query: the link's other end
        'select name from Task where custom_attribute_links any (configuration.key is "supervisor_{}" '
        'and user.username is "{}")'.format(name, user))]
    said["lower_case"] = session.query('ObjectType where name is "task"').one()["id"] == task_type["id"]

    hierarchical = session.create("CustomAttributeConfiguration", {
        "entity_type": "context", "is_hierarchical": True, "type": text, "label": "Vendor", "key": "vendor_" + name,
        "config": json.dumps({"markdown": False})})
    session.commit()
    writer = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=False,
                                schema_cache_path=False)  # one that reads the shot after the attribute exists
    writer.get("Shot", shot["id"])["custom_attributes"]["vendor_" + name] = "foo"
    writer.commit()
    reader = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=False,
                                schema_cache_path=False)
    said["hierarchical"] = [reader.get("Shot", shot["id"])["custom_attributes"]["vendor_" + name],
                            reader.get("Task", task["id"])["custom_attributes"]["vendor_" + name]]
    print(json.dumps(said))
    """
)


# security_roles, note, list, metadata, entity_links, scope, timer, thumbnail, job and assignments pages.
EVERYDAY = START + textwrap.dedent(
    """
    import os, tempfile
    import ftrack_api.symbol

    member = session.create("User", {"username": "pm-" + name})
    session.commit()
    manager = session.query('SecurityRole where name is "Project Manager"').one()
    user_role = session.query('SecurityRole where name is "User"').one()
    for action in ({"action": "add_user_security_role", "role_id": manager["id"]},
                   {"action": "grant_user_security_role_project", "role_id": manager["id"], "project_id": project["id"]},
                   {"action": "update_user_security_role", "role_id": manager["id"], "new_role_id": user_role["id"]}):
        session.call([dict(action, user_id=member["id"])])
    said["roles"] = [(r["security_role"]["name"], [p["project"]["id"] == project["id"] for p in r["user_security_role_projects"]])
                     for r in session.query("select security_role.name, user_security_role_projects.project.full_name "
                                            "from UserSecurityRole where user_id is '{}'".format(member["id"]))]

    me = session.query('User where username is "{}"'.format(user)).one()
    note = task.create_note("My new note", author=me)
    note.create_reply("My new reply on note", author=me)
    session.commit()
    said["notes"] = [n["content"] for n in session.query('Note where parent_id is "{}"'.format(task["id"]))]
    said["replies"] = [r["content"] for r in note["replies"]]

    category = session.query("ListCategory").first()
    versions = session.create("AssetVersionList", {"owner": me, "project": project, "category": category})
    asset = session.create("Asset", {"name": "plate", "parent": shot,
                                     "type": session.query('AssetType where name is "Geometry"').one()})
    model = session.create("AssetVersion", {"asset": asset, "task": task})
    rig = session.create("AssetVersion", {"asset": asset, "task": task})
    versions["items"].append(model)
    session.commit()
    said["list"] = len(versions["items"])

    sequence = session.create("Sequence", {"name": "sq020", "parent": project})
    sequence["metadata"] = {"frame_padding": "4", "focal_length": "70"}
    session.commit()
    said["metadata"] = sorted(session.query('Sequence where metadata any (key="frame_padding" and value="4") '
                                            'and project_id is "{}"'.format(project["id"])).one()["metadata"].keys())

    rig["uses_versions"].append(model)
    session.commit()
    said["used_in"] = [v["id"] == rig["id"] for v in model["used_in_versions"]]

    london = session.create("Scope", {"name": "London-" + name})
    task["scopes"].append(london)
    session.commit()
    said["scoped"] = [t["name"] for t in session.query('Task where scopes.name is "London-{}"'.format(name))]

    me.start_timer(task)
    said["timelog"] = me.stop_timer()["context_id"] == task["id"]

    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "file.txt")
    with open(path, "w") as out:
        out.write("attached")
    server_location = session.query('Location where name is "ftrack.server"').one()
    job = session.create("Job", {"user": me, "status": "running"})
    component = session.create_component(path, data={"name": "My file"}, location=server_location)
    session.create("JobComponent", {"component_id": component["id"], "job_id": job["id"]})
    job["status"] = "done"
    session.commit()
    said["job"] = [server_location.get_url(c["component"]).startswith("http") for c in job["job_components"]]

    session.create("Appointment", {"context": task, "resource": me, "type": "assignment"})
    session.commit()
    said["assigned"] = [a["resource"]["username"] for a in session.query(
        'select resource.username from Appointment where context_id is "{}"'.format(task["id"]))]
    print(json.dumps(said))
    """
)


# querying, the tutorial, handling events (synchronous) and the locations tutorial.
QUERYING_EVENTS_LOCATIONS = START + textwrap.dedent(
    """
    import tempfile
    import ftrack_api.accessor.disk
    import ftrack_api.event.base
    import ftrack_api.structure.id

    jane = session.create("User", {"username": "jane-" + name, "first_name": "Jane", "last_name": "Doe"})
    task.create_note("Looks good", author=jane)
    project["metadata"]["some_key"] = "some_value"
    session.commit()
    said["active"] = name in [p["name"] for p in session.query(
        'Project where status is active and (name like "%{0}" or full_name like "%{0}")'.format(name[-6:]))]
    said["in_project"] = [t["name"] for t in session.query('Task where project.id is "{0}"'.format(project["id"]))]
    said["with_metadata"] = [p["name"] for p in session.query(
        'Project where metadata any (key=some_key and value=some_value)')] == [name]
    said["without_timelogs"] = "jane-" + name in [u["username"] for u in session.query("User where not timelogs any ()")]
    said["has"] = [n["content"] for n in session.query('Note where author has (first_name is "Jane" and last_name is "Doe") '
                                                        'and parent_id is "{}"'.format(task["id"]))]
    said["projected"] = [(p["full_name"] == name, p["status"]) for p in session.query(
        'select full_name, status from Project where id is "{}"'.format(project["id"]))]
    next_week = arrow.now().shift(weeks=+1)   # the tutorial's replace(weeks=+1), as arrow spells it now
    said["ending"] = len(session.query('Project where status is active and end_date before "{0}" and id is "{1}"'
                                       .format(next_week, project["id"])).all())

    hub = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=True,
                             schema_cache_path=False)
    hub.event_hub.subscribe("topic=test-synchronous", lambda event: "A", priority=10)
    hub.event_hub.subscribe("topic=test-synchronous", lambda event: "B", priority=20)
    said["synchronous"] = hub.event_hub.publish(ftrack_api.event.base.Event(topic="test-synchronous"), synchronous=True)
    hub.event_hub.wait(duration=1)

    location = session.create("Location", {"name": "my.location." + name})
    session.commit()
    location.accessor = ftrack_api.accessor.disk.DiskAccessor(prefix=tempfile.mkdtemp())
    location.structure = ftrack_api.structure.id.IdStructure()
    location.priority = 30
    (_, path) = tempfile.mkstemp(suffix=".txt")
    component = session.create_component(path=path, location=location)
    session.commit()
    said["available"] = session.get_component_availability(component)[location["id"]]
    location.remove_component(component)
    said["removed"] = location.get_component_availability(component)
    print(json.dumps(said))
    """
)


def run(official_python, database, script, storage=None):
    with Backend.from_url(database) as backend:
        if storage is not None:
            backend.files.configure(storage)  # the server location's files
        return _served(official_python, backend, script)


def _served(official_python, backend, script):
    with serving(backend) as url:
        key = backend.auth.create_key("admin", "ftrack doc examples")
        done = subprocess.run([official_python, "-c", script, url, "admin", key], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_workflow_schema_example_finds_ftracks_stock_data(official_python, database):
    said = run(official_python, database, WORKFLOW_SCHEMA)
    assert said["asset_build_statuses"] == ["Completed", "In progress", "On Hold"]
    assert said["deliverable_statuses"] == ["Completed", "In progress"]
    assert said["roles"] == ["Project Manager"] and said["pending"] == "IN_PROGRESS"


def test_the_custom_attribute_and_group_by_examples_behave_as_on_ftrack(official_python, database):
    said = run(official_python, database, CUSTOM_ATTRIBUTES)
    assert said["group_by"] == ['2 Tasks are "Not started"']
    assert said["wrong_type"] is True and said["kept"] == 1001  # refused, and nothing stored
    assert said["date_default"] == "2017-02-08"
    assert said["duplicate"] is True
    assert said["link"] == [True]
    assert said["by_user"] == ["comp"] and said["lower_case"] is True
    # ftrack's doc: the task's own (raw) value — here the default, none given: empty — not the shot's
    assert said["hierarchical"] == ["foo", ""]


def test_the_coming_from_ftrack_page_runs_as_shown(official_python, database):
    """docs/howto/from-ftrack.rst: its Python, in order, with the official client pointed at a server by FTRACK_*."""
    import os
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "howto" / "from-ftrack.rst").read_text()
    code = "\n".join(textwrap.dedent(block) for block in re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", page))
    assert "ftrack_api.Session(" in code
    with Backend.from_url(database) as backend, serving(backend) as url:
        key = backend.auth.create_key("admin", "coming from ftrack")
        environment = {**os.environ, "FTRACK_SERVER": url, "FTRACK_API_USER": "admin", "FTRACK_API_KEY": key}
        done = subprocess.run([official_python, "-c", code], capture_output=True, text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_everyday_example_pages_run_as_on_ftrack(official_python, database, tmp_path):
    """Security roles, notes, lists, metadata, version links, scopes, timers, job attachments, assignments."""
    said = run(official_python, database, EVERYDAY, storage=tmp_path / "storage")
    assert said["roles"] == [["User", [True]]]  # added, granted the project, swapped for User with its project
    assert said["notes"] == ["My new note"] and said["replies"] == ["My new reply on note"]
    assert said["list"] == 1 and said["metadata"] == ["focal_length", "frame_padding"]
    assert said["used_in"] == [True] and said["scoped"] == ["comp"] and said["timelog"] is True
    assert said["job"] == [True] and said["assigned"] == ["admin"]


def test_the_querying_events_and_locations_pages_run_as_on_ftrack(official_python, database):
    said = run(official_python, database, QUERYING_EVENTS_LOCATIONS)
    assert said["active"] is True and said["in_project"] == ["comp"] and said["with_metadata"] is True
    assert said["without_timelogs"] is True and said["has"] == ["Looks good"]
    assert said["projected"] == [[True, "active"]] and said["ending"] == 0  # no end date: it ends before nothing
    assert said["synchronous"] == ["A", "B"]
    assert said["available"] == 100.0 and said["removed"] == 0.0
