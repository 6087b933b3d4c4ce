"""Queries on real data: every construct of the language means what the docs say."""

import uuid

import pytest


@pytest.fixture(scope="module")
def studio(call):
    """A small production: a project, two sequences, shots, tasks, users, notes, metadata."""
    ids = {}
    schema_id = call.query("ProjectSchema")[0]["id"]
    statuses = {s["name"]: s["id"] for s in call.query("select name from Status")}
    types = {t["name"]: t["id"] for t in call.query("select name from Type")}
    ids["project"] = call.create("Project", name="tutorial", full_name="Tutorial", project_schema_id=schema_id)["id"]
    ids["other"] = call.create("Project", name="other", full_name="Other", project_schema_id=schema_id)["id"]
    for sequence in ("sq010", "sq020"):
        ids[sequence] = call.create("Sequence", name=sequence, parent_id=ids["project"])["id"]
    shots = [("sh010", "sq010", "Approved"), ("sh020", "sq010", "On Hold"), ("sh030", "sq020", "Omitted")]
    for shot, sequence, status in shots:
        ids[shot] = call.create("Shot", name=shot, parent_id=ids[sequence], status_id=statuses[status])["id"]
    ids["jo"] = call.create("User", username="jo", first_name="Jo", email="jo@example.com")["id"]
    ids["max"] = call.create("User", username="max", first_name="Max")["id"]
    tasks = [
        ("comp", "sh010", "Compositing", "Approved", 2.0),
        ("anim", "sh010", "Animation", "In progress", 5.0),
        ("comp", "sh020", "Compositing", "Not started", 1.5),
        ("light", "sh030", "Lighting", "Not started", 0.0),
    ]
    for name, shot, task_type, status, bid in tasks:
        task = call.create("Task", name=name, parent_id=ids[shot], type_id=types[task_type],
                           status_id=statuses[status], bid=bid,
                           start_date={"__type__": "datetime", "value": "2024-05-01T10:00:00+02:00"} if name == "anim" else None)
        ids[f"{shot}/{name}"] = task["id"]
    call.create("Appointment", type="assignment", resource_id=ids["jo"], context_id=ids["sh010/comp"])
    call.create("Appointment", type="assignment", resource_id=ids["max"], context_id=ids["sh010/anim"])
    call.create("Appointment", type="allocation", resource_id=ids["jo"], context_id=ids["sh020/comp"])
    call.create("Timelog", context_id=ids["sh010/comp"], duration=3600, user_id=ids["jo"],
                start={"__type__": "datetime", "value": "2024-02-01T09:00:00"})
    call.create("Timelog", context_id=ids["sh010/comp"], duration=0, user_id=ids["jo"],
                start={"__type__": "datetime", "value": "2023-06-01T09:00:00"})
    call.create("Timelog", context_id=ids["sh010/anim"], duration=0, user_id=ids["max"],
                start={"__type__": "datetime", "value": "2023-12-01T09:00:00"})
    call({"action": "create", "entity_type": "Metadata", "entity_key": [ids["sh010"], "vendor"],
          "entity_data": {"parent_id": ids["sh010"], "key": "vendor", "value": "acme"}})
    fps = call.create("CustomAttributeConfiguration", key="fps", label="FPS", entity_type="task",
                      type_id=call.query('CustomAttributeType where name is "number"')[0]["id"])["id"]
    call({"action": "create", "entity_type": "ContextCustomAttributeValue", "entity_key": [fps, ids["sh010/comp"]],
          "entity_data": {"configuration_id": fps, "entity_id": ids["sh010/comp"], "value": 25}})
    call({"action": "create", "entity_type": "ContextCustomAttributeValue", "entity_key": [fps, ids["sh020/comp"]],
          "entity_data": {"configuration_id": fps, "entity_id": ids["sh020/comp"], "value": 24}})
    ids["note"] = call.create("Note", content="Looks great", parent_id=ids["sh010"], parent_type="Shot")["id"]
    return ids


def names(call, expression):
    return sorted(row["name"] for row in call.query(expression))


def test_type_alone_lists_every_entity_of_the_type(call, studio):
    assert names(call, "Sequence") == ["sq010", "sq020"]


def test_spec_example_order_offset_limit(call, studio):
    rows = call({"action": "query", "expression":
                 'select name from Task where project.name is "tutorial" order by name desc offset 1 limit 2'})[0]
    assert [r["name"] for r in rows["data"]] == ["comp", "comp"]
    assert rows["metadata"]["next"]["offset"] == 3
    last = call({"action": "query", "expression": "select name from Task order by name offset 3 limit 2"})[0]
    assert [r["name"] for r in last["data"]] == ["light"] and last["metadata"]["next"]["offset"] is None


def test_spec_example_nested_projection_through_collections(call, studio):
    rows = call.query("select id, name, status.name, assignments.resource.username from Task "
                      "where status.state.short is NOT_STARTED")
    assert sorted(r["name"] for r in rows) == ["comp", "light"]
    comp = next(r for r in rows if r["id"] == studio["sh020/comp"])
    # The status both rows share is encoded in full once; the other row holds a reference to it.
    full = {r["status"]["id"]: r["status"] for r in rows if "name" in r["status"]}
    assert full[comp["status"]["id"]]["name"] == "Not started"
    assert comp["assignments"] == []  # jo is allocated, not assigned


def test_spec_example_and_or_not_like(call, studio):
    expression = ('Shot where parent.name is "sq010" and (status.name is "Approved" or not status.name like "%Omit%")')
    assert names(call, expression) == ["sh010", "sh020"]
    assert names(call, 'Shot where status.name like "%Omit%"') == ["sh030"]
    assert names(call, 'Shot where status.name not_like "%Omit%"') == ["sh010", "sh020"]
    # like on a number compares its text; a pattern written as a number is its text too.
    assert names(call, 'Task where bid like "2%"') == ["comp"]
    assert names(call, "Task where name like 5") == []


def test_spec_example_is_not_none(call, studio):
    assert names(call, "Task where start_date is_not None") == ["anim"]
    assert len(call.query("Task where start_date is None")) == 3


def test_spec_example_any_and_empty_any(call, studio):
    assert names(call, 'Task where assignments any (resource.username is "jo") and timelogs any ()') == ["comp"]
    assert names(call, "Task where not timelogs any ()") == ["comp", "light"]


def test_spec_example_subquery(call, studio):
    rows = call.query(f'Note where parent_id in (select id from Shot where project_id is {studio["project"]})')
    assert [r["id"] for r in rows] == [studio["note"]]
    assert call.query(f'Note where parent_id not_in (select id from Shot where project_id is {studio["project"]})') == []


def test_spec_example_group_by_aggregates(call, studio):
    rows = call.query(f'select count(id), sum(bid), status.name from Task where project_id is "{studio["project"]}" '
                      "group by status.name order by status.name")
    assert rows == [
        {"count_id": 1, "sum_bid": 2.0, "status.name": "Approved"},
        {"count_id": 1, "sum_bid": 5.0, "status.name": "In progress"},
        {"count_id": 2, "sum_bid": 1.5, "status.name": "Not started"},
    ]


def test_spec_example_composite_keys_with_the_client_quirk(call, studio):
    rows = call.query(f'ContextCustomAttributeValue where (entity_id is "{studio["sh010/comp"]}"and key is "fps") '
                      f'or (entity_id is "{studio["sh020/comp"]}"and key is "fps")')
    assert sorted(r["entity_id"] for r in rows) == sorted([studio["sh010/comp"], studio["sh020/comp"]])


def test_custom_attributes_and_metadata_through_any(call, studio):
    assert [r["id"] for r in call.query('Task where custom_attributes any (key is "fps" and value is 25)')] == [
        studio["sh010/comp"]
    ]
    assert names(call, 'Shot where metadata any (key is "vendor" and value is "acme")') == ["sh010"]
    rows = call.query(f'select custom_attributes from Task where id is {studio["sh010/comp"]}')
    assert [(v["key"], v["value"]) for v in rows[0]["custom_attributes"]] == [("fps", 25)]


def test_a_condition_through_a_collection_means_some_element(call, studio):
    assert names(call, 'Task where timelogs.start >= "2024-01-01"') == ["comp"]
    # comp has an old empty timelog and a new one with time: each condition finds its own element …
    assert names(call, 'Task where timelogs.start < "2024-01-01" and timelogs.duration > 0') == ["comp"]
    # … while `any` needs one element that satisfies both.
    assert names(call, 'Task where timelogs any (start < "2024-01-01" and duration > 0)') == []
    assert names(call, 'Task where timelogs any (start >= "2024-01-01" and duration > 0)') == ["comp"]


def test_through_references_and_has(call, studio):
    assert names(call, 'Shot where parent.name is "sq010"') == ["sh010", "sh020"]
    assert names(call, 'Shot where parent has (name is "sq010")') == ["sh010", "sh020"]
    assert names(call, 'Task where parent.parent.name is "sq020"') == ["light"]


def test_dates_compare_as_instants(call, studio):
    # anim starts at 08:00 UTC.
    assert names(call, 'Task where start_date >= "2024-05-01T08:00:00Z"') == ["anim"]
    assert names(call, 'Task where start_date after "2024-05-01T10:00:00+02:00"') == []
    assert names(call, 'Task where start_date before "2024-05-01T11:00:00+02:00"') == ["anim"]
    assert names(call, 'Task where start_date after "2024-05-01"') == ["anim"]


def test_in_lists_empty_and_bare_uuids(call, studio):
    a, b = studio["sh010/comp"], studio["sh020/comp"]
    assert len(call.query(f"Task where id in ({a}, {b})")) == 2
    assert call.query("Task where id in ()") == []
    assert len(call.query("Task where id not_in ()")) == 4
    assert names(call, f"Task where id is {a}") == ["comp"]


def test_a_hundred_thousand_ids_in_one_in(call, studio):
    ids = [str(uuid.uuid4()) for _ in range(100_000)] + [studio["sh010/anim"]]
    assert names(call, f"Task where id in ({', '.join(ids)})") == ["anim"]


def test_polymorphic_types_return_each_row_as_its_own_type(call, studio):
    rows = call.query('TypedContext where project.name is "tutorial"')
    kinds = sorted({r["__entity_type__"] for r in rows})
    assert kinds == ["Sequence", "Shot", "Task"]
    everything = call.query("Context")
    assert {"Project", "Sequence", "Shot", "Task"} <= {r["__entity_type__"] for r in everything}


def test_rows_carry_the_system_projections(call, studio):
    row = call.query("select name from Task limit 1")[0]
    assert set(row) == {"__entity_type__", "id", "name", "context_type", "object_type_id", "project_id"}


def test_each_entity_is_encoded_once_then_referenced(call, studio):
    rows = call.query('select status.name from Shot where parent.name is "sq010" order by name')
    status_ids = [r["status"]["id"] for r in rows]
    assert len(set(status_ids)) == 2
    rows = call.query('select status.name from Task where status.name is "Not started" order by name')
    assert rows[0]["status"] == {"__entity_type__": "Status", "id": rows[0]["status"]["id"], "name": "Not started"}
    assert rows[1]["status"] == {"__entity_type__": "Status", "id": rows[0]["status"]["id"]}


def test_order_by_through_a_reference(call, studio):
    rows = call.query(f'select name from Shot where project_id is {studio["project"]} order by status.name desc, name')
    # On Hold, Omitted, Approved
    assert [r["name"] for r in rows] == ["sh020", "sh030", "sh010"]


def test_unknown_names_fail_before_sql_with_suggestions(call, studio):
    error = call.error({"action": "query", "expression": "Tsk where name is x"})
    assert "Unknown entity type 'Tsk'; did you mean Task?" in error["content"]
    error = call.error({"action": "query", "expression": "Task where nmae is x"})
    assert "Task has no attribute 'nmae'; did you mean name?" in error["content"]
    error = call.error({"action": "query", "expression": "select status.nmae from Task"})
    assert "Status has no attribute 'nmae'" in error["content"]
    error = call.error({"action": "query", "expression": "Task where bid > lots"})
    assert "Task.bid is a number: 'lots' is not a number" in error["content"]
    error = call.error({"action": "query", "expression": "Task where timelogs is 1"})
    assert "use timelogs any (…)" in error["content"]
    assert error["error_code"] == "invalid_query"


def test_a_malformed_query_is_an_error_object_with_the_caret(call, studio):
    error = call.error({"action": "query", "expression": "Task where name"})
    assert error["exception"] == "ValidationError"
    assert "Expected operator" in error["content"] and "^" in error["content"]


def test_ancestors_and_descendants_follow_the_hierarchy(call, studio):
    assert names(call, 'Task where ancestors any (name is "sq010")') == ["anim", "comp", "comp"]
    assert names(call, 'Task where ancestors any (name is "sq020")') == ["light"]
    assert names(call, 'Sequence where descendants any (name is "light")') == ["sq020"]
    assert names(call, f'Shot where project_id is {studio["project"]} and not descendants any ()') == []
    assert names(call, f'TypedContext where project_id is {studio["project"]} and not ancestors any ()') == ["sq010", "sq020"]


def test_ancestors_read_from_the_top_and_descendants_level_by_level(call, studio):
    row = call.query(f"select ancestors.name from Task where id is {studio['sh020/comp']}")[0]
    assert [a["name"] for a in row["ancestors"]] == ["sq010", "sh020"]
    row = call.query(f"select descendants.name from Sequence where id is {studio['sq020']}")[0]
    assert [d["name"] for d in row["descendants"]] == ["sh030", "light"]


def test_the_hierarchy_collections_cannot_be_written(call, studio):
    error = call.error({"action": "update", "entity_type": "Task", "entity_key": [studio["sh010/comp"]],
                        "entity_data": {"ancestors": []}})
    assert error["error_code"] == "derived" and "set parent_id instead" in error["content"]


def test_computed_link_and_time_logged(call, studio):
    row = call.query(f"select link, time_logged, bid_time_logged_difference from Task where id is {studio['sh010/comp']}")[0]
    assert [(step["name"], step["type"]) for step in row["link"]] == [
        ("tutorial", "Project"), ("sq010", "TypedContext"), ("sh010", "TypedContext"), ("comp", "TypedContext"),
    ]
    assert row["time_logged"] == 3600 and row["bid_time_logged_difference"] == 2.0 - 3600
    nested = call.query(f"select parent.link from Task where id is {studio['sh030/light']}")[0]["parent"]
    assert [step["name"] for step in nested["link"]] == ["tutorial", "sq020", "sh030"]


def test_computed_attributes_cannot_be_set_or_compared(call, studio):
    error = call.error({"action": "update", "entity_type": "Task", "entity_key": [studio["sh010/comp"]],
                        "entity_data": {"time_logged": 5}})
    assert error["error_code"] == "computed"
    error = call.error({"action": "query", "expression": "Task where time_logged > 0"})
    assert "Task.time_logged is a computed attribute and cannot be compared" in error["content"]


@pytest.mark.parametrize("resolve_at_most", [500, 0], ids=["keys-as-values", "subquery"])
def test_relations_mean_the_same_whichever_way_they_run(call, studio, monkeypatch, resolve_at_most):
    from ftrack_like_api.server.engine import reader

    monkeypatch.setattr(reader, "RESOLVE_AT_MOST", resolve_at_most)
    loose = call.create("Timelog", duration=60)["id"]  # no context at all
    try:
        assert names(call, 'Shot where parent.name is "sq010"') == ["sh010", "sh020"]
        assert names(call, 'Task where assignments any (resource.username is "jo")') == ["comp"]
        with_context = call.query('Timelog where context.name is "comp"')
        without = call.query('Timelog where not context.name is "comp"')
        assert loose in {t["id"] for t in without} and loose not in {t["id"] for t in with_context}
        assert names(call, 'Task where not timelogs any (duration > 0)') == ["anim", "comp", "light"]
    finally:
        call({"action": "delete", "entity_type": "Timelog", "entity_key": [loose]})


def test_through_an_abstract_type_each_subtype_means_its_own_attribute(call, studio):
    """``children`` and ``parent`` lead to Contexts; ``status`` is text on a Project and a relation on
    the TypedContext types, and each row is matched by its own type's meaning, as ftrack's server does."""
    assert names(call, 'Shot where children any (status.name is "In progress")') == ["sh010"]
    assert names(call, 'Sequence where children any (status.name is "Omitted")') == ["sq020"]
    assert names(call, 'Context where status is "active" and name is "tutorial"') == ["tutorial"]
    both = names(call, 'select name from Context where status is "active" or status.name is "On Hold"')
    assert "tutorial" in both and "sh020" in both and "sh010" not in both
    assert names(call, 'Task where parent.status.name is "Omitted"') == ["light"]
    refused = call.error({"action": "query", "expression": 'Context where status.nope is 1'})
    assert refused["content"].startswith("Operation 0 (query): Status has no attribute 'nope'")  # not Context's fault


def test_a_projection_through_an_abstract_type_gives_each_row_its_own_meaning(call, studio):
    rows = call.query('select status.name from Context where name in ("tutorial", "sh010")')
    by_name = {row["__entity_type__"]: row for row in rows}
    assert "status" not in by_name["Project"]  # its text status is not a relation: not answered as one
    assert by_name["Shot"]["status"]["name"] == "Approved"
    shot = call.query('select children.status.name from Shot where name is "sh010"')[0]
    assert sorted(child["status"]["name"] for child in shot["children"]) == ["Approved", "In progress"]
