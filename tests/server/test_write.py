"""create, update and delete: what is filled, what is refused, and that a batch is all or nothing."""

import uuid

import pytest


def new_id():
    return str(uuid.uuid4())


def create(entity_type, **data):
    data.setdefault("id", new_id())
    return {"action": "create", "entity_type": entity_type, "entity_key": [data["id"]], "entity_data": data}


@pytest.fixture(scope="module")
def project(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    return call.create("Project", name=f"p{uuid.uuid4().hex[:6]}", full_name="Write tests", project_schema_id=schema_id)


def test_a_script_creating_shot_name_parent_works(call, project):
    sequence, shot, task = new_id(), new_id(), new_id()
    answers = call(
        create("Sequence", id=sequence, name="sq010", parent={"__entity_type__": "Project", "id": project["id"]}),
        create("Shot", id=shot, name="sh010", parent={"__entity_type__": "Sequence", "id": sequence}),
        create("Task", id=task, name="comp", parent={"__entity_type__": "Shot", "id": shot}),
    )
    shot_data, task_data = answers[1]["data"], answers[2]["data"]
    assert task_data["parent_id"] == shot and task_data["project_id"] == project["id"]
    assert shot_data["project_id"] == project["id"]
    assert shot_data["context_type"] == "task" and shot_data["object_type_id"] == "bad911de-3bd6-47b9-8b46-3476e237cb36"
    for filled in ("status_id", "type_id", "priority_id", "sort", "created_at", "created_by_id"):
        assert shot_data[filled] is not None, filled
    row = call.query(f"select status.name, type.name, priority.name, created_by.username from Task where id is {task}")[0]
    assert (row["status"]["name"], row["type"]["name"]) == ("Not started", "Generic")
    assert row["priority"]["name"] == "None" and row["created_by"]["username"] == "admin"


def test_sort_counts_up_under_a_parent(call, project):
    parent = call.create("Folder", name="f", parent_id=project["id"])["id"]
    sorts = [call.create("Folder", name=f"f{i}", parent_id=parent)["sort"] for i in range(3)]
    assert sorts == [0, 1, 2]


def test_a_project_fills_status_and_is_global(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    created = call.create("Project", name="plain", project_schema_id=schema_id)
    assert (created["status"], created["is_global"], created["project_id"]) == ("active", False, created["id"])


def test_created_by_is_the_acting_user(call, call_as):
    call.create("User", username="writer")
    as_writer = call_as("writer")
    note = as_writer.create("Note", content="hi")
    assert call.query(f"select author.username from Note where id is {note['id']}")[0]["author"]["username"] == "writer"


def test_a_create_without_a_key_gets_a_uuid_it_is_found_by(call):
    created = call({"action": "create", "entity_type": "Location", "entity_key": [], "entity_data": {"name": "studio.disk"}})
    made = created[0]["data"]["id"]
    assert str(uuid.UUID(made)) == made  # canonical text, not merely something that parses
    assert [row["name"] for row in call.query(f"select name from Location where id is {made}")] == ["studio.disk"]


def test_asset_versions_number_themselves(call, project):
    asset = call.create("Asset", name="hero", context_id=project["id"])["id"]
    versions = call(*[create("AssetVersion", asset_id=asset) for _ in range(3)])
    assert [v["data"]["version"] for v in versions] == [1, 2, 3]
    assert call.create("AssetVersion", asset_id=asset)["version"] == 4
    status = call.query(f"select status.name from AssetVersion where asset_id is {asset} limit 1")[0]["status"]
    assert status["name"] == "Pending review"


def test_client_chosen_keys_let_a_batch_refer_to_its_own_creates(call, project):
    shot, task, appointment = new_id(), new_id(), new_id()
    user = call.query('User where username is "admin"')[0]["id"]
    call(
        create("Shot", id=shot, name="sh900", parent_id=project["id"]),
        create("Task", id=task, name="fx", parent_id=shot),
        create("Appointment", id=appointment, type="assignment", context_id=task, resource_id=user),
    )
    assert call.query(f"select assignments.resource.username from Task where id is {task}")[0]["assignments"]


def tree(project_id, shots, asset_type, user):
    """What a script records for ``shots`` shots: each with tasks, assignments, an asset and versions."""
    operations, ids = [], {"tasks": [], "versions": []}
    sequence = create("Sequence", name="sq", parent_id=project_id)
    operations.append(sequence)
    for h in range(shots):
        shot = create("Shot", name=f"sh{h:03d}", parent_id=sequence["entity_key"][0])
        operations.append(shot)
        for name in ("comp", "anim"):
            task = create("Task", name=name, parent_id=shot["entity_key"][0])
            ids["tasks"].append(task["entity_key"][0])
            operations += [task, create("Appointment", type="assignment", context_id=task["entity_key"][0], resource_id=user)]
        asset = create("Asset", name=f"sh{h:03d}_comp", context_id=shot["entity_key"][0], type_id=asset_type)
        versions = [create("AssetVersion", asset_id=asset["entity_key"][0]) for _ in range(2)]
        ids["versions"] += [v["entity_key"][0] for v in versions]
        operations += [asset, *versions]
    return operations, ids


class Inserts:
    """Counts the INSERT statements a backend sends, by table."""

    def __init__(self, backend):
        self.engine, self.tables = backend.engine, []

    def __enter__(self):
        sa = pytest.importorskip("sqlalchemy")
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc_info):
        sa = pytest.importorskip("sqlalchemy")
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO"):
            self.tables.append(statement.split()[2].strip('"'))


def test_a_tree_in_one_batch_is_one_insert_per_table_with_every_fill(backend, call, project):
    asset_type = call.query('AssetType where short is "comp"')[0]["id"]
    user = call.query('User where username is "admin"')[0]["id"]
    operations, ids = tree(project["id"], 20, asset_type, user)
    with Inserts(backend) as inserts:
        call(*operations)
    # The first shot's lookups (the status and type schemes of each object type, …) send
    # what is queued so far; after that it is one insert per table for the shots left, not
    # one per entity (101 here).
    # And one ftrack.update event for the commit.
    assert set(inserts.tables) == {"appointment", "asset", "asset_version", "context", "event_log"}
    assert inserts.tables.count("event_log") == 1
    assert len(inserts.tables) <= 11, " ".join(inserts.tables)
    tasks = call.query(f"select project_id, sort, parent.name from Task where parent.parent.name is sq and "
                       f"project_id is {project['id']} order by parent.name, sort")  # fmt: skip
    assert len(tasks) == 40 and {t["project_id"] for t in tasks} == {project["id"]}
    assert [t["sort"] for t in tasks[:2]] == [0, 1]
    versions = call.query(f"select version, status_id from AssetVersion where id in ({', '.join(ids['versions'])})")
    assert sorted(v["version"] for v in versions) == [1] * 20 + [2] * 20
    pending = call.query('Status where name is "Pending review"')[0]["id"]
    assert {v["status_id"] for v in versions} == {pending}


def test_rows_that_refer_to_later_tables_change_the_order_not_the_outcome(backend, call, project):
    # The batch starts with a version of an existing asset, so asset_version ranks before
    # asset; the next asset's versions then refer to a row queued for a later table.
    existing = call.create("Asset", name="existing", context_id=project["id"])["id"]
    operations = [create("AssetVersion", asset_id=existing)]
    for a in range(30):
        asset = create("Asset", name=f"later{a}", context_id=project["id"])
        operations += [asset, create("AssetVersion", asset_id=asset["entity_key"][0])]
    with Inserts(backend) as inserts:
        answers = call(*operations)
    # Reordered once (and sent early by the batch's first lookups), not sent once per asset.
    assert len(inserts.tables) < 10, inserts.tables
    assert [a["data"]["version"] for a in answers if a["data"]["__entity_type__"] == "AssetVersion"] == [1] * 31


def test_numbers_count_what_an_update_moved_under_a_new_entity(call, project):
    folder = call.create("Folder", name="old", parent_id=project["id"])["id"]
    moved = call.create("Folder", name="moved", parent_id=folder)
    old_asset = call.create("Asset", name="old", context_id=project["id"])["id"]
    for _ in range(3):
        version = call.create("AssetVersion", asset_id=old_asset)
    new_folder, new_asset = create("Folder", name="new", parent_id=project["id"]), create("Asset", name="new", context_id=project["id"])
    answers = call(
        new_folder, new_asset,
        {"action": "update", "entity_type": "Folder", "entity_key": [moved["id"]],
         "entity_data": {"parent_id": new_folder["entity_key"][0]}},
        {"action": "update", "entity_type": "AssetVersion", "entity_key": [version["id"]],
         "entity_data": {"asset_id": new_asset["entity_key"][0]}},
        create("Folder", name="after", parent_id=new_folder["entity_key"][0]),
        create("AssetVersion", asset_id=new_asset["entity_key"][0]),
    )  # fmt: skip
    assert answers[4]["data"]["sort"] == moved["sort"] + 1
    assert answers[5]["data"]["version"] == version["version"] + 1 == 4


def test_update_returns_what_changed(call, project):
    task = call.create("Task", name="roto", parent_id=project["id"])["id"]
    answer = call({"action": "update", "entity_type": "Task", "entity_key": [task],
                   "entity_data": {"name": "paint", "bid": 4, "description": "more"}})[0]
    assert answer == {"action": "update", "data": {
        "__entity_type__": "Task", "id": task, "project_id": project["id"], "context_type": "task",
        "object_type_id": "11c137c0-ee7e-4f9c-91c5-8c77cec22b2c", "name": "paint", "bid": 4, "description": "more"}}


def test_update_a_reference_by_entity(call, project):
    task = call.create("Task", name="lay", parent_id=project["id"])["id"]
    approved = call.query('Status where name is "Approved"')[0]["id"]
    call({"action": "update", "entity_type": "Task", "entity_key": [task],
          "entity_data": {"status": {"__entity_type__": "Status", "id": approved}}})
    assert call.query(f"select status_id from Task where id is {task}")[0]["status_id"] == approved


def test_an_update_answers_the_references_it_set_as_they_point_now(call, project):
    """ftrack's client drops its local values after a commit and keeps the answer: without the reference in
    it, a component given another version went on answering the version it was first read with."""
    asset = call.create("Asset", name="moved", context_id=project["id"])["id"]
    first, second = (call.create("AssetVersion", asset_id=asset)["id"] for _ in range(2))
    component = call.create("FileComponent", name="main", version_id=first)["id"]
    answer = call({"action": "update", "entity_type": "FileComponent", "entity_key": [component],
                   "entity_data": {"version": {"__entity_type__": "AssetVersion", "id": second}}})[0]["data"]
    assert answer["version"] == {"__entity_type__": "AssetVersion", "id": second} and answer["version_id"] == second
    # A reference to a type with subtypes names the most specific one, read from the database or from the
    # batch that made it; a reference by its key alone (``parent_id``) is answered as the key it is.
    task = call.create("Task", name="moving", parent_id=project["id"])["id"]
    folder, sequence = new_id(), new_id()
    answers = call(
        create("Folder", id=folder, name="moved_into", parent_id=project["id"]),
        {"action": "update", "entity_type": "Task", "entity_key": [task],
         "entity_data": {"parent": {"__entity_type__": "Context", "id": folder}}},
        create("Sequence", id=sequence, name="sq_moved", parent_id=project["id"]),
        {"action": "update", "entity_type": "Task", "entity_key": [task], "entity_data": {"parent_id": sequence}},
        {"action": "update", "entity_type": "FileComponent", "entity_key": [component], "entity_data": {"version": None}},
    )  # fmt: skip
    assert answers[1]["data"]["parent"] == {"__entity_type__": "Folder", "id": folder}
    assert "parent" not in answers[3]["data"] and answers[3]["data"]["parent_id"] == sequence
    assert answers[4]["data"]["version"] is None
    stored = call.query(f"select parent.name from Task where id is {task}")[0]
    assert (stored["parent"]["__entity_type__"], stored["parent"]["name"]) == ("Sequence", "sq_moved")
    answer = call({"action": "update", "entity_type": "Task", "entity_key": [task],
                   "entity_data": {"parent": {"__entity_type__": "TypedContext", "id": folder}}})[0]["data"]
    assert answer["parent"] == {"__entity_type__": "Folder", "id": folder}


def test_datetimes_are_stored_as_instants(call, project):
    task = call.create("Task", name="t", parent_id=project["id"],
                       start_date={"__type__": "datetime", "value": "2024-05-01T10:00:00+02:00"})
    assert task["start_date"] == {"__type__": "datetime", "value": "2024-05-01T08:00:00"}


def test_composite_keys_create_update_query_delete(call, project):
    key = [project["id"], "pipeline"]
    call({"action": "create", "entity_type": "Metadata", "entity_key": key,
          "entity_data": {"parent_id": key[0], "key": key[1], "value": "v1"}})
    row = call.query(f'Metadata where parent_id is "{key[0]}" and key is "pipeline"')[0]
    assert (row["value"], row["parent_type"]) == ("v1", "Project")
    call({"action": "update", "entity_type": "Metadata", "entity_key": key, "entity_data": {"value": "v2"}})
    assert call.query(f'select value from Metadata where parent_id is "{key[0]}"')[0]["value"] == "v2"
    call({"action": "delete", "entity_type": "Metadata", "entity_key": key})
    assert call.query(f'Metadata where parent_id is "{key[0]}"') == []


def test_delete_cascades_to_owned_entities(call, project):
    shot = call.create("Shot", name="gone", parent_id=project["id"])["id"]
    task = call.create("Task", name="gone", parent_id=shot)["id"]
    call({"action": "create", "entity_type": "Metadata", "entity_key": [shot, "k"],
          "entity_data": {"parent_id": shot, "key": "k", "value": "v"}})
    call({"action": "delete", "entity_type": "Shot", "entity_key": [shot]})
    assert call.query(f"Context where id in ({shot}, {task})") == []
    assert call.query(f'Metadata where parent_id is "{shot}"') == []


def test_a_project_is_deleted_with_its_tree(call):
    """PostgreSQL checked a task's project_id before parent_id's cascade reached it, and refused (revision 0006)."""
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name=f"doomed{uuid.uuid4().hex[:6]}", project_schema_id=schema_id)["id"]
    sequence = call.create("Sequence", name="sq010", parent_id=project)["id"]
    shot = call.create("Shot", name="sh010", parent_id=sequence)["id"]
    task = call.create("Task", name="comp", parent_id=shot)["id"]
    asset = call.create("Asset", name="plate", context_id=shot)["id"]
    version = call.create("AssetVersion", asset_id=asset, task_id=task)["id"]
    call({"action": "delete", "entity_type": "Project", "entity_key": [project]})
    assert call.query(f"Context where project_id is {project} or id is {project}") == []
    assert call.query(f"AssetVersion where id is {version}") == []


def test_a_user_is_deleted_with_their_timelogs_and_timer(call, project):
    """As ftrack's server does: its own suite deletes a user who stopped a timer into a timelog."""
    user = call.create("User", username=f"leaving{uuid.uuid4().hex[:6]}")["id"]
    task = call.create("Task", name="logged", parent_id=project["id"])["id"]
    call.create("Timelog", user_id=user, context_id=task, duration=60)
    call.create("Timer", user_id=user, context_id=task)
    kept = call.create("Timelog", context_id=task, duration=30)["id"]  # the admin's
    call({"action": "delete", "entity_type": "User", "entity_key": [user]})
    assert call.query(f"Timelog where user_id is {user}") == [] and call.query(f"Timer where user_id is {user}") == []
    assert [t["id"] for t in call.query(f"Timelog where context_id is {task}")] == [kept]


@pytest.mark.parametrize(
    "operation, code, words",
    [
        (create("Tsk", name="x"), "unknown_type", "Unknown entity type 'Tsk'; did you mean Task?"),
        (create("TypedContext", name="x"), "abstract_type", "TypedContext is abstract: create one of"),
        (create("Task", nmae="x"), "unknown_attribute", "Task has no attribute 'nmae'; did you mean name?"),
        (create("Task", name="x", bid="lots"), "wrong_type", "Task.bid takes a number: 'lots' is not a number"),
        (create("Task", name="x", start_date="soon"), "wrong_type", "Task.start_date takes a datetime"),
        (create("Task", name="x", parent_id="missing-parent"), "missing_reference",
         "Task.parent_id is missing-parent, but there is no Context with that id"),
        (create("Membership", user_id=None), "missing_required", "Membership needs a value for user_id, group_id"),
        (create("Task", name="x", status={"__entity_type__": "Type", "id": "x"}), "wrong_type",
         "Task.status refers to a Status, not a Type"),
        ({"action": "update", "entity_type": "Task", "entity_key": ["nope"], "entity_data": {"name": "x"}},
         "not_found", "No Task with id nope"),
        ({"action": "delete", "entity_type": "Task", "entity_key": ["nope"]}, "not_found", "No Task with id nope"),
        ({"action": "update", "entity_type": "Metadata", "entity_key": ["only-one"], "entity_data": {}},
         "bad_key", "Metadata is keyed by parent_id, key"),
        ({"action": "frobnicate"}, "invalid_action", "Invalid action 'frobnicate'"),
    ],
)
def test_a_refused_operation_says_which_and_why(call, operation, code, words):
    error = call.error({"action": "query", "expression": "Task limit 1"}, operation)
    assert error["exception"] == "ValidationError"
    assert error["error_code"] == code
    assert words in error["content"], error["content"]
    assert error["operation"]["index"] == 1
    assert error["content"].startswith("Operation 1 (")


def test_immutable_attributes_refuse_updates(call, project):
    task = call.create("Task", name="imm", parent_id=project["id"])["id"]
    error = call.error({"action": "update", "entity_type": "Task", "entity_key": [task],
                        "entity_data": {"object_type_id": "x"}})
    assert error["error_code"] == "immutable" and "Task.object_type_id is immutable" in error["content"]


def test_duplicate_key_and_duplicate_value(call, project):
    task = call.create("Task", name="dup", parent_id=project["id"])["id"]
    error = call.error(create("Task", id=task, name="again", parent_id=project["id"]))
    assert error["error_code"] == "duplicate_key" and f"a Task with id {task} exists already" in error["content"]
    error = call.error(create("User", username="admin"))
    assert error["error_code"] == "duplicate_value" and "username 'admin'" in error["content"]


def test_a_failing_batch_stores_nothing(call, project):
    shot, task = new_id(), new_id()
    error = call.error(
        create("Shot", id=shot, name="atomic", parent_id=project["id"]),
        create("Task", id=task, name="atomic", parent_id=shot),
        create("Task", name="broken", parent_id="missing"),
    )
    assert error["operation"]["index"] == 2 and error["error_code"] == "missing_reference"
    assert call.query(f"Context where id in ({shot}, {task})") == []


@pytest.mark.parametrize("size", [50, 500])  # 500: past COPY_FROM, so PostgreSQL gets the rows by COPY
def test_an_error_after_a_constraint_names_the_operation_in_a_long_batch(call, project, size):
    operations = [create("Task", name=f"t{i}", parent_id=project["id"]) for i in range(size)]
    operations.insert(37, create("Task", name="bad", parent_id="nowhere"))
    error = call.error(*operations)
    assert error["operation"]["index"] == 37 and error["error_code"] == "missing_reference"
    assert call.query(f'select id from Task where name is "t1" and parent_id is {project["id"]}') == []


def test_many_rows_keep_their_values_exactly(backend, call, project):
    # 300 rows per table: past COPY_FROM, so on PostgreSQL this is the COPY path.
    awkward = ["tab\there", "line\nbreak", "back\\slash", "quote\"s", "ünïcødé ✓", "\\N", "", "  spaced  "]
    folder = call.create("Folder", name="many", parent_id=project["id"])["id"]
    tasks = [create("Task", name=f"{awkward[i % len(awkward)]}{i}", parent_id=folder, bid=i / 8,
                    description=None if i % 3 else f"d{i}", start_date=f"2026-11-{1 + i % 28:02d}T10:30:15.250000Z")
             for i in range(300)]  # fmt: skip
    users = [create("User", username=f"many{i}", is_active=bool(i % 2)) for i in range(300)]
    with Inserts(backend) as inserts:
        call(*tasks, *users)
    if backend.dialect.name == "postgresql":
        assert inserts.tables == ["event_log"]  # both tables by COPY; the batch's ftrack.update events by INSERT
    stored = {t["id"]: t for t in call.query(f"select name, bid, description, start_date from Task where parent_id is {folder}")}
    for sent in tasks:
        data, row = sent["entity_data"], stored[sent["entity_key"][0]]
        assert (row["name"], row["bid"], row["description"]) == (data["name"], data["bid"], data["description"])
        assert row["start_date"]["value"].startswith(data["start_date"][:23])
    active = {u["username"]: u["is_active"] for u in call.query('select username, is_active from User where username like "many%"')}
    assert active == {f"many{i}": bool(i % 2) for i in range(300)}


def test_reset_remote_puts_an_attribute_back_to_its_default(call, project):
    task = call.create("Task", name="reset", parent_id=project["id"], bid=7)["id"]
    answer = call({"action": "reset_remote", "reset_type": "bid", "entity_type": "Task", "entity_key": task})[0]
    assert answer == {"data": 0}
    assert call.query(f"select bid from Task where id is {task}")[0]["bid"] == 0
    error = call.error({"action": "reset_remote", "reset_type": "name", "entity_type": "Task", "entity_key": "x"})
    assert "No Task with id x" in error["content"]
    error = call.error({"action": "reset_remote", "reset_type": "api_key", "entity_type": "User", "entity_key": "x"})
    assert error["error_code"] == "not_found"


def test_reset_remote_gives_a_new_api_key_and_revokes_the_old(call, call_as, backend):
    user = call.create("User", username="rotator")["id"]
    old = backend.auth.create_key("rotator", "api_key")
    new = call_as("rotator")({"action": "reset_remote", "reset_type": "api_key", "entity_type": "User",
                              "entity_key": user})[0]["data"]["api_key"]  # what the official client reads
    assert backend.auth.verify("rotator", new) == user and backend.auth.verify("rotator", old) is None
    assert call({"action": "reset_remote", "reset_type": "api_key", "entity_type": "User", "entity_key": user})[0]["data"]
    other = call.create("User", username="bystander")["id"]
    error = call_as("rotator").error({"action": "reset_remote", "reset_type": "api_key", "entity_type": "User",
                                      "entity_key": other})  # fmt: skip
    assert error["error_code"] == "permission"


def test_deleting_what_others_refer_to_is_refused_and_changes_nothing(call, project):
    status = call.create("Status", name="Temporary", is_active=True)["id"]
    task = call.create("Task", name="uses status", parent_id=project["id"], status_id=status)["id"]
    error = call.error({"action": "delete", "entity_type": "Status", "entity_key": [status]})
    assert error["error_code"] == "still_referenced" and error["operation"]["index"] == 0
    assert call.query(f"select status_id from Task where id is {task}")[0]["status_id"] == status


def test_batches_leave_the_garbage_collector_as_they_found_it(backend):
    import gc
    import threading

    assert gc.isenabled()
    threads = [
        threading.Thread(target=backend.execute, args=([{"action": "query", "expression": "Status"}] * 20, "admin"))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gc.isenabled()
    gc.disable()
    try:
        backend.execute([{"action": "query", "expression": "Status"}], "admin")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_setting_a_collection_through_a_link_type(call, project):
    tasks = [call.create("Task", name=f"listed{i}", parent_id=project["id"])["id"] for i in range(3)]
    category = call.query("ListCategory")[0]["id"]
    listing = call.create("TypedContextList", name="dailies", project_id=project["id"], category_id=category,
                          items=[{"__entity_type__": "Task", "id": tasks[0]}, {"__entity_type__": "Task", "id": tasks[1]}])
    items = call.query(f"select items from TypedContextList where id is {listing['id']}")[0]["items"]
    assert sorted(i["id"] for i in items) == sorted(tasks[:2])
    call({"action": "update", "entity_type": "TypedContextList", "entity_key": [listing["id"]],
          "entity_data": {"items": [{"__entity_type__": "Task", "id": tasks[1]}, {"__entity_type__": "Task", "id": tasks[2]}]}})
    items = call.query(f"select items from TypedContextList where id is {listing['id']}")[0]["items"]
    assert sorted(i["id"] for i in items) == sorted(tasks[1:])
    assert [t["name"] for t in call.query('Task where lists any (name is "dailies") order by name')] == ["listed1", "listed2"]


def test_setting_a_collection_of_owned_entities(call, project):
    asset = call.create("Asset", name="owned", context_id=project["id"])["id"]
    first, second = (call.create("AssetVersion", asset_id=asset)["id"] for _ in range(2))
    components = [call.create("FileComponent", name=f"c{i}")["id"] for i in range(2)]
    call({"action": "update", "entity_type": "AssetVersion", "entity_key": [first],
          "entity_data": {"components": [{"__entity_type__": "FileComponent", "id": c} for c in components]}})
    assert len(call.query(f"Component where version_id is {first}")) == 2
    call({"action": "update", "entity_type": "AssetVersion", "entity_key": [second],
          "entity_data": {"components": [{"__entity_type__": "FileComponent", "id": components[0]}]}})
    call({"action": "update", "entity_type": "AssetVersion", "entity_key": [first], "entity_data": {"components": []}})
    assert [c["id"] for c in call.query(f"Component where version_id is {second}")] == [components[0]]
    assert call.query(f"Component where version_id is {first}") == []


def test_server_information_gives_our_version_when_asked(call):
    plain = call({"action": "query_server_information"})[0]
    asked = call({"action": "query_server_information", "values": ["ftrack_like_api_version"]})[0]
    assert "ftrack_like_api_version" not in plain and asked["ftrack_like_api_version"]
    assert plain["version"] == "4.13.0"


def test_before_commit_runs_in_the_batch_and_fails_it_whole(backend, call):
    name = f"atomic-{uuid.uuid4().hex[:6]}"
    batch = [create("User", username=name)]

    def failing(connection, results):
        raise RuntimeError("could not keep the answer")

    with pytest.raises(RuntimeError, match="could not keep the answer"):
        backend.execute(batch, "admin", before_commit=failing)
    assert call.query(f'User where username is "{name}"') == []  # not stored without its answer
    seen = []
    answer = backend.execute(batch, "admin", before_commit=lambda connection, results: seen.append(results))
    assert seen == [answer] and len(call.query(f'User where username is "{name}"')) == 1


def test_a_create_answers_what_was_set_and_leaves_out_the_rest(call):
    """As ftrack's server: the official client reads a value left out as NOT_SET (to fetch), a null as None."""
    made = call.create("User", first_name="Kim")
    assert made["first_name"] == "Kim" and made["is_active"] is True and made["resource_type"] == "user"
    assert "email" not in made and "last_name" not in made and "thumbnail_id" not in made


def test_a_user_created_without_a_username_gets_one_as_on_ftracks_server(call):
    made = call.create("User", first_name="Nameless")
    assert len(made["username"]) == 36 and made["username"] != made["id"]
    assert call.query(f'select username from User where id is "{made["id"]}"')[0]["username"] == made["username"]


def test_a_required_value_is_required_at_the_end_of_the_batch(call):
    # ftrack's client sends a Scope created without its name, then named by an update, in one batch.
    unnamed, named = new_id(), new_id()
    call(
        create("Scope", id=unnamed),
        create("Scope", id=named, name=f"scope-{named[:6]}"),
        {"action": "update", "entity_type": "Scope", "entity_key": [unnamed], "entity_data": {"name": f"first-{unnamed[:6]}"}},
        {"action": "update", "entity_type": "Scope", "entity_key": [unnamed], "entity_data": {"name": f"last-{unnamed[:6]}"}},
    )
    assert call.query(f"select name from Scope where id is {unnamed}")[0]["name"] == f"last-{unnamed[:6]}"
    # Still required: a batch that never gives it is refused, naming the create; so is an update before the create.
    error = call.error(create("Scope", id=new_id()), create("Scope", name="other"))
    assert error["error_code"] == "missing_required" and error["content"].startswith("Operation 0 (create Scope")
    later = new_id()
    error = call.error(
        {"action": "update", "entity_type": "Scope", "entity_key": [later], "entity_data": {"name": "early"}},
        create("Scope", id=later),
    )
    assert error["error_code"] == "not_found"
