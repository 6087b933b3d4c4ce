"""ftrack's types beyond the production core, and the behaviour some of them need.

A timer per user that stops into a timelog, a StatusChange recorded with every status
change of a TypedContext or an AssetVersion, the project schema as the official client
reads it (``_task_workflow``, ``_schemas``, ``_overrides`` …), the computed attributes,
every new type written and read back, project permissions over the new project-bound
types, and a database built with the 65 types of before opening with today's schema.
"""

import json
import pathlib
import uuid

import pytest
import sqlalchemy as sa

from ftrack_like_api.exceptions import ServerError
from ftrack_like_api.schema import Schema
from ftrack_like_api.server import Backend
from ftrack_like_api.server.engine.seed import ADMIN_USERNAME, seed_id
from ftrack_like_api.session import Session

ADMIN = seed_id("user", ADMIN_USERNAME)
BEFORE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "production-65-types.json"


def update(entity_type, key, data):
    return {"action": "update", "entity_type": entity_type, "entity_key": [key], "entity_data": data}


@pytest.fixture(scope="module")
def studio(call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    project = call.create("Project", name=f"p{uuid.uuid4().hex[:6]}", full_name="Types", project_schema_id=schema)
    shot = call.create("Shot", name="sh010", parent_id=project["id"])
    task = call.create("Task", name="comp", parent_id=shot["id"])
    asset_type = call.query("AssetType limit 1")[0]["id"]
    asset = call.create("Asset", name="plate", context_id=shot["id"], type_id=asset_type)
    versions = [call.create("AssetVersion", asset_id=asset["id"], task_id=task["id"]) for _ in range(2)]
    status = {row["name"]: row["id"] for row in call.query("select name from Status")}
    return {"schema": schema, "project": project["id"], "shot": shot["id"], "task": task["id"], "asset": asset["id"],
            "versions": [v["id"] for v in versions], "status": status}  # fmt: skip


# --- status changes ------------------------------------------------------------------------------


def test_a_status_change_is_recorded_in_the_same_batch(call, studio):
    task, status = studio["task"], studio["status"]
    before = call.query(f"select status_id from Task where id is {task}")[0]["status_id"]
    call(update("Task", task, {"status_id": status["In progress"]}))
    call(update("Task", task, {"status_id": status["In progress"], "name": "comp"}))  # the same status: no change
    call(update("Task", task, {"bid": 3.0}))
    changes = call.query(
        "select from_status_id, status.name, user.username, parent_type, parent.name, date "
        f"from StatusChange where parent_id is {task}"
    )
    assert len(changes) == 1
    change = changes[0]
    assert change["__entity_type__"] == "TypedContextStatusChange"
    assert change["from_status_id"] == before and change["status"]["name"] == "In progress"
    assert change["user"]["username"] == "admin" and change["parent_type"] == "Task"
    assert change["parent"]["name"] == "comp" and change["date"]["__type__"] == "datetime"
    listed = call.query(f"select status_changes.status.name from Task where id is {task}")[0]["status_changes"]
    assert [c["status"]["name"] for c in listed] == ["In progress"]


def test_a_refused_batch_records_no_status_change(call, studio):
    task, status = studio["task"], studio["status"]
    error = call.error(update("Task", task, {"status_id": status["On Hold"]}), update("Task", task, {"bid": "lots"}))
    assert error["error_code"] == "wrong_type"
    assert call.query(f'StatusChange where parent_id is {task} and status.name is "On Hold"') == []


def test_a_version_status_change_is_an_asset_version_status_change(call, studio):
    version, status = studio["versions"][0], studio["status"]
    call({"action": "update", "entity_type": "AssetVersion", "entity_key": [version],
          "entity_data": {"status": {"__entity_type__": "Status", "id": status["Approved"]}}})  # fmt: skip
    rows = call.query(f"select status.name, parent.version from AssetVersionStatusChange where parent_id is {version}")
    assert [(r["status"]["name"], r["parent"]["version"]) for r in rows] == [("Approved", 1)]
    assert call.query(f"select id from TypedContextStatusChange where parent_id is {version}") == []


# --- timers --------------------------------------------------------------------------------------


@pytest.fixture(params=["embedded", "http"])
def connect(request, backend, database, server):
    """A Session on this module's database: embedded, or through the HTTP server."""
    if request.param == "embedded":
        return lambda: Session(server_url=database, api_user="admin")
    key = backend.auth.create_key("admin", f"types {uuid.uuid4().hex[:6]}")
    return lambda: Session(server_url=server, api_user="admin", api_key=key)


def test_a_timer_runs_once_per_user_and_stops_into_a_timelog(connect, studio):
    """As the official client's start_timer and stop_timer do it."""
    with connect() as session:
        user = session.get("User", ADMIN)
        task = session.get("Task", studio["task"])
        timer = session.create("Timer", {"user": user, "context": task, "name": "comp", "comment": "keying"})
        session.commit()
        assert timer["start"] is not None  # filled with now
        session.create("Timer", {"user": user, "context": None, "comment": ""})
        with pytest.raises(ServerError, match="IntegrityError") as refused:  # the words ftrack's client looks for
            session.commit()
        assert refused.value.exception == "DuplicateEntryError" and refused.value.code == "duplicate_value"
        session.rollback()

        running = session.query(f'Timer where user_id = "{ADMIN}"').one()
        timelog = session.create("Timelog", {
            "user_id": running["user_id"], "context_id": running["context_id"], "comment": running["comment"],
            "start": running["start"], "duration": 90, "name": running["name"],
        })  # fmt: skip
        session.delete(running)
        session.commit()
    with connect() as session:
        assert session.query(f"Timer where user_id is {ADMIN}").all() == []
        stored = session.query(f"select comment, context_id, duration from Timelog where id is {timelog['id']}").one()
        assert (stored["comment"], stored["context_id"], stored["duration"]) == ("keying", studio["task"], 90)


def test_a_status_changed_through_a_session_is_listed_on_the_task(connect, call, studio):
    task_id = call.create("Task", name=f"t{uuid.uuid4().hex[:4]}", parent_id=studio["shot"])["id"]
    with connect() as session:
        task = session.get("Task", task_id)
        task["status"] = session.get("Status", studio["status"]["Pending review"])
        session.commit()
    with connect() as session:
        changes = session.get("Task", task_id)["status_changes"]
        assert [c["status"]["name"] for c in changes] == ["Pending review"]


# --- the project schema as the official client reads it --------------------------------------------


def test_a_project_schema_answers_as_ftrack_for_tasks_containers_and_versions(call, studio):
    def read(projection):  # one at a time: a status met twice in one answer is written in full once
        return call.query(f"select {projection} from ProjectSchema where id is {studio['schema']}")[0]

    schema = {**read("_task_workflow.statuses.name"), **read("_version_workflow.statuses.name"),
              **read("_task_type_schema.types.name"), **read("_schemas.type_id, _schemas.object_type_id, _overrides")}
    # A workflow's statuses come in its order, as ftrack gives them.
    task_statuses = [s["name"] for s in schema["_task_workflow"]["statuses"]]
    assert task_statuses[:3] == ["Not started", "Ready to start", "In progress"] and "Completed" not in task_statuses
    assert [s["name"] for s in schema["_version_workflow"]["statuses"]] == ["Pending review", "Revise", "Approved", "Omitted",
                                                                           "Viewed", "N/A"]  # the last two ShotGrid's
    assert "Generic" in [t["name"] for t in schema["_task_type_schema"]["types"]]
    shot_type = "bad911de-3bd6-47b9-8b46-3476e237cb36"
    shot_schema = next(s for s in schema["_schemas"] if s["type_id"] == shot_type)
    assert shot_schema["object_type_id"] == shot_type
    rows = call.query(f"select task_status.name from SchemaStatus where schema_id is {shot_schema['id']}")
    assert {r["task_status"]["name"] for r in rows} == {"Not started", "In progress", "On Hold", "Completed", "Omitted"}
    types = call.query(f"select task_type.name from SchemaType where schema_id is {shot_schema['id']}")
    assert [t["task_type"]["name"] for t in types] == ["Generic"]
    assert schema["_overrides"] == []


def test_an_override_gives_a_task_type_its_own_workflow(call, studio):
    schema = call.create("ProjectSchema", name=f"s{uuid.uuid4().hex[:6]}")
    workflow = call.query('WorkflowSchema where name is "Container workflow"')[0]["id"]
    production = call.query('Type where name is "Production"')[0]["id"]
    call.create("ProjectSchemaOverride", project_schema_id=schema["id"], type_id=production, workflow_schema_id=workflow)
    found = call.query(f"select _overrides.type_id, _overrides.workflow_schema.statuses.name from ProjectSchema "
                       f"where id is {schema['id']}")[0]["_overrides"]  # fmt: skip
    assert [o["type_id"] for o in found] == [production]
    assert "Completed" in {s["name"] for s in found[0]["workflow_schema"]["statuses"]}
    overriding = call.query(f"select overrides.type_id from WorkflowSchema where id is {workflow}")[0]["overrides"]
    assert production in [o["type_id"] for o in overriding]


# --- computed attributes ---------------------------------------------------------------------------


def test_links_and_latest_versions_are_computed(call, studio):
    _, second = studio["versions"]
    rows = call.query(f"select link, _link, is_latest_version, version from AssetVersion where asset_id is {studio['asset']}")
    by_version = {r["version"]: r for r in rows}
    assert by_version[1]["is_latest_version"] is False and by_version[2]["is_latest_version"] is True
    link = by_version[2]["link"]
    # ftrack's shape: the project, the contexts, then the version itself (not its asset).
    assert [step["type"] for step in link] == ["Project", "TypedContext", "AssetVersion"]
    assert [step["name"] for step in link][1:] == ["sh010", "plate v2"] and link[-1]["id"] == second
    assert by_version[2]["_link"] == link
    asset = call.query(f"select link from Asset where id is {studio['asset']}")[0]
    assert [(step["name"], step["type"]) for step in asset["link"]][1:] == [("sh010", "TypedContext"), ("plate", "Asset")]
    task = call.query(f"select link, _link from Task where id is {studio['task']}")[0]
    assert task["_link"] == task["link"] and [s["name"] for s in task["link"]][1:] == ["sh010", "comp"]


def test_a_review_session_is_open_until_it_ends(call, studio):
    def session_ending(when):
        return call.create("ReviewSession", name=f"r{when}", project_id=studio["project"],
                           end_date={"__type__": "datetime", "value": when})["id"]  # fmt: skip

    past, future = session_ending("2001-01-01T00:00:00"), session_ending("2999-01-01T00:00:00")
    rows = {r["id"]: r for r in call.query(f"select is_open, start_date from ReviewSession where project_id is {studio['project']}")}
    assert rows[past]["is_open"] is False and rows[future]["is_open"] is True
    assert rows[past]["start_date"] is not None
    assert call.error(update("ReviewSession", past, {"is_open": True}))["error_code"] == "computed"


# --- every new type, written and read back ----------------------------------------------------------


def test_every_new_type_is_written_and_read_back(call, studio):
    """One of each, with the values ftrack requires; each reads back with its references."""
    project, task, version = studio["project"], studio["task"], studio["versions"][0]
    component = call.create("FileComponent", name="main", version_id=version)["id"]
    note = call.create("Note", content="hi", parent_id=task, parent_type="Task")["id"]
    label = call.create("NoteLabel", name="Fix", color="#f00")["id"]
    call({"action": "create", "entity_type": "NoteLabelLink", "entity_key": [note, label],
          "entity_data": {"note_id": note, "label_id": label}})  # fmt: skip
    call({"action": "create", "entity_type": "Recipient", "entity_key": [note, ADMIN],
          "entity_data": {"note_id": note, "resource_id": ADMIN, "text_mentioned": "@admin"}})  # fmt: skip
    read = call.query(f"select note_label_links.label.name, recipients.user.username from Note where id is {note}")[0]
    assert [link["label"]["name"] for link in read["note_label_links"]] == ["Fix"]
    assert [r["user"]["username"] for r in read["recipients"]] == ["admin"]

    review = call.create("ReviewSession", name="dailies", project_id=project,
                         end_date={"__type__": "datetime", "value": "2999-01-01T00:00:00"})["id"]  # fmt: skip
    item = call.create("ReviewSessionObject", review_session_id=review, version_id=version, version="v1")["id"]
    invitee = call.create("ReviewSessionInvitee", review_session_id=review, name="Client", email="c@example.com")["id"]
    call.create("ReviewSessionObjectStatus", review_session_object_id=item, review_session_invitee_id=invitee,
                status="approved")  # fmt: skip
    call({"action": "create", "entity_type": "EntitySetting", "entity_key": [review, "review", "speed"],
          "entity_data": {"parent_id": review, "group": "review", "name": "speed", "value": "1",
                          "parent_type": "ReviewSession"}})  # fmt: skip
    read = call.query(
        "select review_session_objects.asset_version.version, review_session_invitees.statuses.status, settings.value "
        f"from ReviewSession where id is {review}"
    )[0]
    assert [o["asset_version"]["version"] for o in read["review_session_objects"]] == [1]
    assert [s["status"] for i in read["review_session_invitees"] for s in i["statuses"]] == ["approved"]
    assert [s["value"] for s in read["settings"]] == ["1"]
    assert review in [r["id"] for r in call.query(f"select review_sessions from Project where id is {project}")[0]["review_sessions"]]

    template = call.create("TaskTemplate", name="Shot tasks", project_schema_id=studio["schema"])["id"]
    generic = call.query('Type where name is "Generic"')[0]["id"]
    call.create("TaskTemplateItem", template_id=template, task_type_id=generic)
    read = call.query(f"select task_templates.items.task_type.name from ProjectSchema where id is {studio['schema']}")[0]
    assert [i["task_type"]["name"] for t in read["task_templates"] for i in t["items"]] == ["Generic"]

    event = call.create("CalendarEvent", name="Holiday", project_id=project, leave=True,
                        start={"__type__": "datetime", "value": "2030-01-01T00:00:00"},
                        end={"__type__": "datetime", "value": "2030-01-02T00:00:00"})["id"]  # fmt: skip
    call.create("CalendarEventResource", calendar_event_id=event, resource_id=ADMIN)
    read = call.query(f"select calendar_event_resources.resource_id, created_by_id from CalendarEvent where id is {event}")[0]
    assert [r["resource_id"] for r in read["calendar_event_resources"]] == [ADMIN] and read["created_by_id"] == ADMIN

    supervisor = call.create("ManagerType", name=f"Supervisor {uuid.uuid4().hex[:4]}")["id"]
    call.create("Manager", user_id=ADMIN, type_id=supervisor, context_id=task)
    assert [m["user_id"] for m in call.query(f"select managers.user_id from Task where id is {task}")[0]["managers"]] == [ADMIN]

    group = call.create("CustomAttributeGroup", name=f"g{uuid.uuid4().hex[:4]}")["id"]
    configuration = call.create("CustomAttributeLinkConfiguration", key="hero", label="Hero", entity_type="task",
                                entity_type_to="asset_version", group_id=group)["id"]  # fmt: skip
    call.create("AssetVersionCustomAttributeLink", configuration_id=configuration, from_id=task, to_id=version,
                from_entity_type="Context")  # fmt: skip
    # A link's relation names its other end: a task's link to a version is an AssetVersionCustomAttributeLink.
    link = call.query(f"select asset_version.version, configuration.group.name from CustomAttributeLink where from_id is {task}")
    assert link[0]["__entity_type__"] == "AssetVersionCustomAttributeLink" and link[0]["asset_version"]["version"] == 1
    back = call.query(f"select context.name from ContextCustomAttributeLinkFrom where to_id is {version}")
    assert [b["context"]["name"] for b in back] == ["comp"]
    assert call.query(f"select custom_attribute_links from Task where id is {task}")[0]["custom_attribute_links"]
    call.create("CustomConfigurationBase", key="base", entity_type="task")

    disk = call.create("Disk", name="projects", unix="/mnt/projects", windows="P:")["id"]
    call(update("Project", project, {"disk_id": disk}))
    assert [p["id"] for p in call.query(f"select projects from Disk where id is {disk}")[0]["projects"]] == [project]

    dashboard = call.create("Dashboard", name="Mine")["id"]
    call.create("DashboardWidget", dashboard_id=dashboard, type="tasks", sort=1, config="{}")
    call({"action": "create", "entity_type": "DashboardResource", "entity_key": [dashboard, ADMIN],
          "entity_data": {"dashboard_id": dashboard, "resource_id": ADMIN}})  # fmt: skip
    read = call.query(f"select widgets.type, dashboard_resources.resource_id, created_by_id from Dashboard where id is {dashboard}")[0]
    assert [w["type"] for w in read["widgets"]] == ["tasks"] and read["created_by_id"] == ADMIN

    conversation = call.create("Conversation")["id"]
    call.create("Message", conversation_id=conversation, text="hello")
    call.create("Participant", conversation_id=conversation, resource_id=ADMIN)
    read = call.query(f"select messages.text, participants.resource_id from Conversation where id is {conversation}")[0]
    assert [m["text"] for m in read["messages"]] == ["hello"] and len(read["participants"]) == 1

    job = call.create("Job")["id"]
    call({"action": "create", "entity_type": "JobComponent", "entity_key": [component, job],
          "entity_data": {"component_id": component, "job_id": job}})  # fmt: skip
    assert len(call.query(f"select job_components from Job where id is {job}")[0]["job_components"]) == 1
    call({"action": "create", "entity_type": "Setting", "entity_key": ["logo", "studio"],
          "entity_data": {"name": "logo", "group": "studio", "value": "yes"}})  # fmt: skip
    call({"action": "create", "entity_type": "SettingComponent", "entity_key": [component, "logo", "studio"],
          "entity_data": {"component_id": component, "name": "logo", "group": "studio"}})  # fmt: skip
    assert call.query('select value from Setting where name is "logo"')[0]["value"] == "yes"
    call({"action": "create", "entity_type": "UserApplicationState", "entity_key": [ADMIN, "layout"],
          "entity_data": {"user_id": ADMIN, "key": "layout", "value": "{}"}})  # fmt: skip
    assert call.query(f"select value from UserApplicationState where user_id is {ADMIN}")[0]["value"] == "{}"
    event_id = call.query("select id from Event limit 1")
    if event_id:
        call.create("Feed", social_id=event_id[0]["id"], relation="watcher")
        assert call.query(f"select feeds from Event where id is {event_id[0]['id']}")[0]["feeds"]


def test_custom_attributes_of_assets_and_list_objects(call, studio):
    text = call.query('CustomAttributeType where name is "text"')[0]["id"]
    configuration = call.create("CustomAttributeConfiguration", key=f"vendor{uuid.uuid4().hex[:4]}", label="Vendor",
                                type_id=text, entity_type="asset", default="none")["id"]  # fmt: skip
    asset = studio["asset"]
    shown = call.query(f"select custom_attributes from Asset where id is {asset}")[0]["custom_attributes"]
    assert [(c["__entity_type__"], c["value"]) for c in shown if c["configuration_id"] == configuration] == [
        ("AssetCustomAttributeValue", "none")
    ]
    call({"action": "update", "entity_type": "AssetCustomAttributeValue", "entity_key": [configuration, asset],
          "entity_data": {"value": "acme"}})  # fmt: skip
    stored = call.query(f"select value from AssetCustomAttributeValue where entity_id is {asset}")
    assert [s["value"] for s in stored] == ["acme"]


# --- project permissions over the new types ---------------------------------------------------------


def test_a_restricted_user_sees_the_new_types_of_their_projects_only(backend, call, call_as):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    suffix = uuid.uuid4().hex[:6]
    username = f"free{suffix}"
    call.create("User", username=username)
    made = {}
    for name in ("open", "secret"):
        project = call.create("Project", name=f"{name}{suffix}", full_name=name, project_schema_id=schema)["id"]
        task = call.create("Task", name=f"{name}_comp", parent_id=project)["id"]
        call(update("Task", task, {"status_id": call.query('Status where name is "In progress"')[0]["id"]}))
        call.create("ReviewSession", name=f"{name} review", project_id=project,
                    end_date={"__type__": "datetime", "value": "2999-01-01T00:00:00"})  # fmt: skip
        call.create("CalendarEvent", name=f"{name} event", project_id=project,
                    start={"__type__": "datetime", "value": "2030-01-01T00:00:00"},
                    end={"__type__": "datetime", "value": "2030-01-02T00:00:00"})  # fmt: skip
        call.create("Manager", user_id=ADMIN, context_id=task)
        made[name] = task
    backend.auth.grant(username, f"open{suffix}")
    free = call_as(username)
    assert [r["name"] for r in free.query("select name from ReviewSession")] == ["open review"]
    assert [r["name"] for r in free.query("select name from CalendarEvent")] == ["open event"]
    assert {r["context_id"] for r in free.query("select context_id from Manager")} == {made["open"]}
    assert {r["parent_id"] for r in free.query("select parent_id from StatusChange")} == {made["open"]}


# --- a database of before -------------------------------------------------------------------------


def test_a_database_built_with_the_65_types_of_before_opens_and_gains_the_new_ones(fresh_database):
    before = Schema.from_definition(json.loads(BEFORE.read_text()))
    assert len(before.types) == 65
    backend = Backend.from_url(fresh_database, schema=before)
    call = lambda *operations: backend.execute(list(operations), "admin")  # noqa: E731
    schema = call({"action": "query", "expression": 'ProjectSchema where name is "VFX"'})[0]["data"][0]["id"]
    project = str(uuid.uuid4())
    task = str(uuid.uuid4())
    call({"action": "create", "entity_type": "Project", "entity_key": [project],
          "entity_data": {"id": project, "name": "kept", "full_name": "Kept", "project_schema_id": schema}},
         {"action": "create", "entity_type": "Task", "entity_key": [task],
          "entity_data": {"id": task, "name": "comp", "parent_id": project}})  # fmt: skip
    backend.close()

    backend = Backend.from_url(fresh_database)
    with backend.engine.connect() as connection:
        inspector = sa.inspect(connection)
        tables = set(inspector.get_table_names())
        assert {"timer", "status_change", "review_session", "custom_attribute_link", "setting", "disk"} <= tables
        assert "disk_id" in {c["name"] for c in inspector.get_columns("context")}
    call = lambda *operations: backend.execute(list(operations), "admin")  # noqa: E731
    in_progress = call({"action": "query", "expression": 'Status where name is "In progress"'})[0]["data"][0]["id"]
    answer = call(
        update("Task", task, {"status_id": in_progress}),
        {"action": "create", "entity_type": "Timer", "entity_key": ["t1"], "entity_data": {"id": "t1", "context_id": task}},
        {"action": "query", "expression": f"select name, link, status_changes, timelogs from Task where id is {task}"},
    )
    assert isinstance(answer, list), answer
    kept = answer[2]["data"][0]
    assert kept["name"] == "comp" and len(kept["status_changes"]) == 1
    assert [step["name"] for step in kept["link"]] == ["kept", "comp"]
    backend.close()


def test_a_note_written_to_others_has_its_writer_among_the_recipients_too(call, studio):
    # As ftrack's server: the calling user is added to a new note's recipients (its client's tests count them).
    someone = call.create("User", username=f"recipient-{uuid.uuid4().hex[:6]}")["id"]

    def note_with(*recipients):
        note = str(uuid.uuid4())
        call({"action": "create", "entity_type": "Note", "entity_key": [note],
              "entity_data": {"id": note, "content": "hi", "parent_id": studio["task"], "parent_type": "Task"}},
             *({"action": "create", "entity_type": "Recipient", "entity_key": [note, r],
                "entity_data": {"note_id": note, "resource_id": r}} for r in recipients))  # fmt: skip
        return note

    def recipients(note):
        return sorted(r["resource_id"] for r in call.query(f"select recipients from Note where id is {note}")[0]["recipients"])

    assert recipients(note_with(someone)) == sorted([someone, ADMIN])
    assert recipients(note_with(someone, ADMIN)) == sorted([someone, ADMIN])  # named already: one row
    assert recipients(note_with()) == []  # a note to nobody stays so
    later = note_with()
    call({"action": "create", "entity_type": "Recipient", "entity_key": [later, someone],
          "entity_data": {"note_id": later, "resource_id": someone}})  # fmt: skip
    assert recipients(later) == [someone]  # a recipient added to a note written before: nobody else


def test_note_labels_are_note_categories_and_a_labelled_note_has_its_category(call, studio):
    # As on ftrack's server (NoteLabel is an alias of NoteCategory; ours keeps twin rows): its
    # client 3.x files create_note(category=…) as a NoteLabelLink to the category's id.
    category = call.query('NoteCategory where name is "Internal"')[0]["id"]
    label = call.create("NoteLabel", name=f"Fix {uuid.uuid4().hex[:6]}", color="#f00")["id"]
    assert call.query(f"NoteLabel where id is {category}") and call.query(f"NoteCategory where id is {label}")

    def note_labelled(*labels, **data):
        note = str(uuid.uuid4())
        call({"action": "create", "entity_type": "Note", "entity_key": [note],
              "entity_data": {"id": note, "content": "hi", "parent_id": studio["task"], "parent_type": "Task", **data}},
             *({"action": "create", "entity_type": "NoteLabelLink", "entity_key": [note, label_id],
                "entity_data": {"note_id": note, "label_id": label_id}} for label_id in labels))  # fmt: skip
        return call.query(f"select category_id, note_label_links.label.name from Note where id is {note}")[0]

    read = note_labelled(category)
    assert read["category_id"] == category and [link["label"]["name"] for link in read["note_label_links"]] == ["Internal"]
    assert note_labelled(label, category)["category_id"] == label  # the first label given
    assert note_labelled(label, category_id=category)["category_id"] == category  # a category given stays
    assert note_labelled()["category_id"] is None
    # Twins: renamed and deleted together.
    call(update("NoteCategory", label, {"name": "Fix it", "color": "#0f0"}))
    assert [(r["name"], r["color"]) for r in call.query(f"select name, color from NoteLabel where id is {label}")] == [
        ("Fix it", "#0f0")
    ]
    call({"action": "delete", "entity_type": "NoteLabel", "entity_key": [label]})
    assert call.query(f"NoteCategory where id is {label}") == []


def test_contexts_have_scopes_kept_in_a_link_type_that_query_schemas_leaves_out(call, studio, backend):
    # ftrack's Task.scopes: set as a collection, queried through, with no link type in ftrack's answer.
    task = studio["task"]
    scopes = [call.create("Scope", name=f"scope-{uuid.uuid4().hex[:8]}") for _ in range(2)]
    refs = [{"__entity_type__": "Scope", "id": scope["id"]} for scope in scopes]

    def scoped(name):
        return [row["id"] for row in call.query(f'Task where scopes.name is "{name}"')]

    assert scoped(scopes[0]["name"]) == []
    call(update("Task", task, {"scopes": refs}))
    assert scoped(scopes[0]["name"]) == [task] and scoped(scopes[1]["name"]) == [task]
    read = call.query(f"select scopes.name from Task where id is {task}")[0]["scopes"]
    assert sorted(scope["name"] for scope in read) == sorted(scope["name"] for scope in scopes)
    call(update("Task", task, {"scopes": refs[1:]}))
    assert scoped(scopes[0]["name"]) == [] and scoped(scopes[1]["name"]) == [task]
    call({"action": "delete", "entity_type": "Scope", "entity_key": [scopes[1]["id"]]})  # its links go with it
    assert call.query(f"select scopes from Task where id is {task}")[0]["scopes"] == []
    assert "ContextScope" not in {schema["id"] for schema in backend.schema.to_ftrack()}
