"""``ftrack.update``: each committed batch that writes appends its changes, in ftrack's payload shape.

The shape is checked the way existing listeners read it: ftrack's cascade-status recipe
(``entityType == "task"``, ``"statusid" in keys``), ayon-ftrack's handlers (the project from
``parents`` by ``entityType == "show"``, ``changes["parent_id"]`` of a move,
``changes["version"]["new"]`` and ``changes["taskid"]`` of a new version, a note's ``text``,
an assignment's ``context_id``/``resource_id``), on SQLite and PostgreSQL.
"""

import pytest

from ftrack_like_api.server.auth.permissions import Principal

ENTITY_FIELDS = {"action", "entityId", "entityType", "entity_type", "keys", "changes", "parents", "parentId"}
PARENT_FIELDS = {"entityId", "entityType", "entity_type", "parentId"}


@pytest.fixture(scope="module")
def studio(backend, call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    made = {"jo": call.create("User", username="jo", first_name="Jo", last_name="Smith")["id"]}
    for name in ("alpha", "beta"):
        project = call.create("Project", name=name, full_name=name.title(), project_schema_id=schema)["id"]
        sequence = call.create("Sequence", name="sq", parent_id=project)["id"]
        shots = [call.create("Shot", name=f"sh{n}", parent_id=sequence)["id"] for n in (10, 20)]
        task = call.create("Task", name="comp", parent_id=shots[0])["id"]
        made[name] = {"project": project, "sequence": sequence, "shots": shots, "task": task}
    backend.auth.grant("jo", "alpha")
    return made


def events_of(backend, call_batch):
    """Run a batch; the events it appended."""
    before = backend.events.last()
    answer = call_batch()
    return answer, backend.events.read(before)


def update(entity_type, key, **data):
    return {"action": "update", "entity_type": entity_type, "entity_key": [key], "entity_data": data}


def check_shape(event):
    assert event.topic == "ftrack.update" and event.target == ""
    assert set(event.data) >= {"entities", "parents", "user"}
    for entity in event.data["entities"]:
        assert set(entity) >= ENTITY_FIELDS, entity
        assert entity["action"] in ("add", "update", "remove", "move")
        assert set(entity["keys"]) == set(entity["changes"])
        assert all(set(change) == {"old", "new"} for change in entity["changes"].values())
        assert entity["parents"][0]["entityId"] == entity["entityId"]
        assert all(set(parent) == PARENT_FIELDS for parent in entity["parents"])
        assert entity["parentId"] == entity["parents"][0]["parentId"]


def project_of(entity):
    """How ayon-ftrack's status handlers find an entity's project."""
    return next((p["entityId"] for p in reversed(entity["parents"]) if p["entityType"] == "show"), None)


def is_status_change(entity):
    """ftrack's cascade-status-changes recipe, word for word in spirit."""
    return entity["entityType"] == "task" and entity.get("action") in ("add", "update") and "statusid" in entity.get("keys", [])


def test_a_status_change_is_one_event_as_ftracks_listeners_read_it(backend, call, studio):
    alpha = studio["alpha"]
    statuses = {s["name"]: s["id"] for s in call.query("select name from Status")}
    call(update("Task", alpha["task"], status_id=statuses["In progress"]))
    _, events = events_of(backend, lambda: call(update("Task", alpha["task"], status_id=statuses["Approved"])))
    assert len(events) == 1, "one event for the commit"
    (event,) = events
    check_shape(event)
    assert event.project_id == alpha["project"]
    task = next(e for e in event.data["entities"] if e["entityId"] == alpha["task"])
    assert is_status_change(task) and task["action"] == "update"
    assert task["changes"]["statusid"] == {"old": statuses["In progress"], "new": statuses["Approved"]}
    assert (task["entity_type"], task["parentId"], project_of(task)) == ("Task", alpha["shots"][0], alpha["project"])
    assert task["objectTypeId"] == call.query('ObjectType where name is "Task"')[0]["id"]
    assert [(p["entityType"], p["entity_type"]) for p in task["parents"]] == [
        ("task", "Task"), ("task", "Shot"), ("task", "Sequence"), ("show", "Project")]
    assert [p["entityId"] for p in task["parents"]] == [alpha["task"], alpha["shots"][0], alpha["sequence"], alpha["project"]]
    assert set(event.data["parents"]) >= {alpha["task"], alpha["shots"][0], alpha["sequence"], alpha["project"]}
    admin = call.query('select id from User where username is "admin"')[0]
    assert event.data["user"] == {"userid": admin["id"], "name": "Studio Admin"}
    assert event.source["user"] == {"id": admin["id"], "username": "admin"} and event.user_id == admin["id"]
    # ftrack's status change record rides in the same event, filed under the task.
    change = next(e for e in event.data["entities"] if e["entity_type"] == "TypedContextStatusChange")
    assert change["action"] == "add" and change["parentId"] == alpha["task"]


def test_creates_are_adds_with_every_value_set(backend, call, studio):
    alpha = studio["alpha"]
    _, (event,) = events_of(backend, lambda: call.create("Task", name="lighting", parent_id=alpha["shots"][1]))
    check_shape(event)
    (task,) = [e for e in event.data["entities"] if e["entity_type"] == "Task"]
    assert task["action"] == "add" and task["entityType"] == "task"
    assert task["changes"]["name"] == {"old": None, "new": "lighting"}
    assert task["changes"]["parent_id"]["new"] == alpha["shots"][1] and task["changes"]["statusid"]["new"]
    assert task["parentId"] == alpha["shots"][1] and project_of(task) == alpha["project"]


def test_a_new_version_and_what_it_hangs_on(backend, call, studio):
    alpha = studio["alpha"]
    asset_type = call.query("AssetType limit 1")[0]["id"]
    asset = call.create("Asset", name="plate", context_id=alpha["shots"][0], type_id=asset_type)["id"]
    made, (event,) = events_of(backend, lambda: call.create("AssetVersion", asset_id=asset, task_id=alpha["task"]))
    check_shape(event)
    (version,) = [e for e in event.data["entities"] if e["entityType"] == "assetversion"]
    # ayon-ftrack's first-version handler: an add, version 1, with a task.
    assert version["action"] == "add" and version["changes"]["version"]["new"] == 1 and version["entityId"] == made["id"]
    assert version["changes"]["taskid"]["new"] == alpha["task"]
    assert [p["entityType"] for p in version["parents"]] == ["assetversion", "asset", "task", "task", "show"]
    assert version["parentId"] == asset and event.project_id == alpha["project"]


def test_a_note_on_a_task_and_an_assignment(backend, call, studio):
    alpha = studio["alpha"]
    _, (event,) = events_of(backend, lambda: call.create("Note", content="looks good", parent_id=alpha["task"],
                                                          parent_type="Task"))  # fmt: skip
    (note,) = [e for e in event.data["entities"] if e["entityType"] == "note"]
    assert note["changes"]["text"]["new"] == "looks good"
    assert note["parents"][1]["entityType"] == "task" and note["parents"][-1]["entityId"] == alpha["project"]
    _, (event,) = events_of(backend, lambda: call.create("Appointment", type="assignment", resource_id=studio["jo"],
                                                          context_id=alpha["task"]))  # fmt: skip
    (assignment,) = event.data["entities"]
    assert assignment["entity_type"] == "Appointment" and assignment["action"] == "add"
    assert assignment["changes"]["context_id"]["new"] == alpha["task"]
    assert assignment["changes"]["resource_id"]["new"] == studio["jo"]
    _, (event,) = events_of(backend, lambda: call({"action": "delete", "entity_type": "Appointment",
                                                    "entity_key": [assignment["entityId"]]}))  # fmt: skip
    (removed,) = event.data["entities"]
    assert removed["action"] == "remove" and removed["changes"]["resource_id"] == {"old": studio["jo"], "new": None}
    assert project_of(removed) == alpha["project"], "a removed entity's parents are those it had"


def test_a_move_names_the_old_and_new_parent(backend, call, studio):
    alpha = studio["alpha"]
    task = call.create("Task", name="roto", parent_id=alpha["shots"][0])["id"]
    _, (event,) = events_of(backend, lambda: call(update("Task", task, parent_id=alpha["shots"][1], name="roto2")))
    (moved,) = event.data["entities"]
    assert moved["action"] == "move" and set(moved["keys"]) == {"parent_id", "name"}
    assert moved["changes"]["parent_id"] == {"old": alpha["shots"][0], "new": alpha["shots"][1]}
    assert moved["parentId"] == alpha["shots"][1]


def test_one_event_per_project_each_read_only_by_who_reads_that_project(backend, call, studio):
    alpha, beta = studio["alpha"], studio["beta"]
    _, events = events_of(backend, lambda: call(update("Shot", alpha["shots"][1], description="a"),
                                                update("Shot", beta["shots"][1], description="b"),
                                                update("Shot", alpha["shots"][0], description="c"),
                                                update("User", studio["jo"], email="jo@example.com")))  # fmt: skip
    by_project = {event.project_id: event for event in events}
    assert set(by_project) == {alpha["project"], beta["project"], None}
    assert [e["entityId"] for e in by_project[alpha["project"]].data["entities"]] == [alpha["shots"][1], alpha["shots"][0]]
    (user,) = by_project[None].data["entities"]
    assert (user["entityType"], user["parents"], user["parentId"]) == ("user", [
        {"entityId": studio["jo"], "entityType": "user", "entity_type": "User", "parentId": None}], None)
    jo = Principal(studio["jo"], "jo", readable=frozenset({alpha["project"]}))
    seen = {e.project_id for e in backend.events.read(events[0].seq - 1, principal=jo)}
    assert seen == {alpha["project"], None}


def test_nothing_is_appended_for_reads_refusals_and_no_change(backend, call, studio):
    alpha = studio["alpha"]
    last = backend.events.last()
    call.query("Task")
    call.error(update("Task", alpha["task"], name="x"), update("Task", "no-such-task", name="y"))
    name = call.query(f"select name from Task where id is {alpha['task']}")[0]["name"]
    call(update("Task", alpha["task"], name=name))  # writes what is there already
    assert backend.events.last() == last
    assert call.query(f"select name from Task where id is {alpha['task']}")[0]["name"] == name


def test_the_broker_hears_of_each_commit(backend, call, studio):
    call(update("Shot", studio["beta"]["shots"][0], description="told"))
    assert backend.broker.latest() == backend.events.last()


def test_a_custom_attribute_is_a_change_of_the_entity_it_is_on(backend, call, studio):
    """As ftrack tells it (ayon-ftrack reads ``changes[key]["new"]`` on the entity, booleans as "1")."""
    alpha = studio["alpha"]
    kinds = {t["name"]: t["id"] for t in call.query("select name from CustomAttributeType")}
    sync = call.create("CustomAttributeConfiguration", key="auto_sync", entity_type="show", type_id=kinds["boolean"],
                       default=False)["id"]  # fmt: skip
    fps = call.create("CustomAttributeConfiguration", key="fps_events", entity_type="task", is_hierarchical=True,
                      type_id=kinds["number"], default=24)["id"]  # fmt: skip

    def value(configuration, entity, data):
        return {"action": "update", "entity_type": "ContextCustomAttributeValue", "entity_key": [configuration, entity],
                "entity_data": data}  # fmt: skip

    _, (event,) = events_of(backend, lambda: call(value(sync, alpha["project"], {"value": True})))
    (project,) = event.data["entities"]
    assert (project["entityType"], project["entity_type"], project["entityId"]) == ("show", "Project", alpha["project"])
    assert project["action"] == "update" and project["changes"] == {"auto_sync": {"old": None, "new": "1"}}
    assert project["keys"] == ["auto_sync"] and [p["entityType"] for p in project["parents"]] == ["show"]
    _, (event,) = events_of(backend, lambda: call(value(fps, alpha["task"], {"value": 25}),
                                                  update("Task", alpha["task"], description="graded")))  # fmt: skip
    (task,) = event.data["entities"]
    assert task["entityId"] == alpha["task"] and task["objectTypeId"] and project_of(task) == alpha["project"]
    assert task["changes"]["fps_events"] == {"old": None, "new": "25"} and "description" in task["changes"]
    _, (event,) = events_of(backend, lambda: call(value(fps, alpha["task"], {"value": 30})))
    assert event.data["entities"][0]["changes"] == {"fps_events": {"old": "25", "new": "30"}}


def test_an_entity_changed_twice_in_a_batch_is_one_entry_from_first_old_to_last_new(backend, call, studio):
    beta = studio["beta"]
    task = call.create("Task", name="twice", parent_id=beta["shots"][0])["id"]
    _, (event,) = events_of(backend, lambda: call(update("Task", task, name="twice-a"), update("Task", task, name="twice-b"),
                                                  update("Task", task, parent_id=beta["shots"][1])))  # fmt: skip
    (entry,) = event.data["entities"]
    assert entry["action"] == "move" and entry["changes"]["name"] == {"old": "twice", "new": "twice-b"}
    assert entry["changes"]["parent_id"] == {"old": beta["shots"][0], "new": beta["shots"][1]}
    made = {"action": "create", "entity_type": "Task", "entity_key": ["made-then-named"],
            "entity_data": {"id": "made-then-named", "name": "first", "parent_id": beta["shots"][0]}}  # fmt: skip
    _, (event,) = events_of(backend, lambda: call(made, update("Task", "made-then-named", name="second")))
    (entry,) = event.data["entities"]
    assert entry["action"] == "add" and entry["changes"]["name"]["new"] == "second"


def test_the_chain_up_to_the_project_is_one_statement(backend, call, studio):
    """A task's shot, sequence and project are read in one statement (a recursive one), not one per level."""
    import sqlalchemy as sa

    alpha = studio["alpha"]
    statuses = [s["id"] for s in call.query("select id from Status")][:2]
    call(update("Task", alpha["task"], status_id=statuses[0]))
    read = []

    def keep(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and "context" in statement:
            read.append(statement)

    sa.event.listen(backend.engine, "before_cursor_execute", keep)
    try:
        _, events = events_of(backend, lambda: call(update("Task", alpha["task"], status_id=statuses[1])))
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", keep)
    (task,) = [e for e in events[0].data["entities"] if e["entityId"] == alpha["task"]]
    assert [p["entityId"] for p in task["parents"]] == [alpha["task"], alpha["shots"][0], alpha["sequence"], alpha["project"]]
    chains = [statement for statement in read if "RECURSIVE" in statement.upper()]
    assert len(chains) == 1
    # Besides it, the task read once before it is changed: nothing reads a level of the chain on its own.
    assert len(read) == 2, read


def test_the_chains_statement_is_built_once(backend, call, studio):
    """Each update's chain is read by the statement the first one built (its keys bound), not one built anew."""
    import sqlalchemy as sa

    alpha = studio["alpha"]
    statuses = [s["id"] for s in call.query("select id from Status")][:2]
    executed = []
    keep = lambda connection, clause, *rest: executed.append(clause) if isinstance(clause, sa.Select) else None  # noqa: E731
    sa.event.listen(backend.engine, "before_execute", keep)
    try:
        for status in statuses * 2:
            _, events = events_of(backend, lambda status=status: call(update("Task", alpha["task"], status_id=status)))
            (task,) = [e for e in events[0].data["entities"] if e["entityId"] == alpha["task"]]
            assert [p["entityId"] for p in task["parents"]][1:] == [alpha["shots"][0], alpha["sequence"], alpha["project"]]
    finally:
        sa.event.remove(backend.engine, "before_execute", keep)
    chains = [clause for clause in executed if "above" in str(clause)]
    assert len(chains) == 4 and len({id(clause) for clause in chains}) == 1


def test_one_event_its_lock_and_its_notification_are_one_statement(backend, call, studio, database):
    """On PostgreSQL the other workers hear of an event through a notification, sent with it; the log's
    lock (which numbers events in the order they commit) is taken by that statement too."""
    import psycopg
    import sqlalchemy as sa

    if not database.startswith("postgresql"):
        pytest.skip("SQLite's workers are one process: no notification to send")
    from ftrack_like_api.server.events.log import CHANNEL

    statuses = [s["id"] for s in call.query("select id from Status")][:2]
    call(update("Task", studio["beta"]["task"], status_id=statuses[0]))
    sent = []
    listen = lambda connection, cursor, statement, *rest: sent.append(statement) if "pg_" in statement else None  # noqa: E731
    with psycopg.connect(database, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        sa.event.listen(backend.engine, "before_cursor_execute", listen)
        try:
            _, events = events_of(backend, lambda: call(update("Task", studio["beta"]["task"], status_id=statuses[1])))
        finally:
            sa.event.remove(backend.engine, "before_cursor_execute", listen)
        heard = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    (event,) = events
    assert len(sent) == 1 and sent[0].lstrip().upper().startswith("INSERT INTO EVENT_LOG")
    assert "pg_advisory_xact_lock" in sent[0] and "pg_notify" in sent[0]
    assert heard and heard[0].endswith(f":{event.seq}")


def test_the_author_is_read_with_the_acting_user_and_named_as_they_are_after_the_batch(backend, call, studio):
    """The event's author comes with the acting user's read (no statement of its own); a batch that
    renames its own author names them by the new name."""
    import sqlalchemy as sa

    statuses = [s["id"] for s in call.query("select id from Status")][:2]
    task = studio["alpha"]["task"]
    call(update("Task", task, status_id=statuses[0]))
    read = []
    keep = lambda connection, cursor, statement, *rest: read.append(statement)  # noqa: E731
    sa.event.listen(backend.engine, "before_cursor_execute", keep)
    try:
        _, events = events_of(backend, lambda: call(update("Task", task, status_id=statuses[1])))
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", keep)
    admin = call.query('select id, first_name, last_name from User where username is "admin"')[0]
    assert events[0].data["user"] == {"userid": admin["id"], "name": "Studio Admin"}
    assert not [s for s in read if "first_name" in s and "security_role" not in s]  # read once, with the roles
    try:
        _, events = events_of(backend, lambda: call(update("User", admin["id"], first_name="Head"),
                                                    update("Task", task, status_id=statuses[0])))  # fmt: skip
        assert events[0].data["user"] == {"userid": admin["id"], "name": "Head Admin"}
    finally:
        call(update("User", admin["id"], first_name=admin["first_name"]))
