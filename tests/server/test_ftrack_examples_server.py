"""What ftrack's documentation examples need of the server, checked at the backend (issue 19).

Its stock data under ftrack's names, ``group by`` answers with their keys, and the checks
ftrack's server makes of custom attributes (the official client runs the examples
themselves in tests/test_ftrack_doc_examples.py).
"""

import pytest

from ftrack_like_api.server.engine.seed import OBJECT_TYPES, seed_id

ASSET_BUILD = OBJECT_TYPES["Asset Build"][0]


@pytest.fixture(scope="module")
def studio(call):
    schema_id = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    kinds = {t["name"]: t["id"] for t in call.query("select name from CustomAttributeType")}
    ids = {"kinds": kinds, "project": call.create("Project", name="examples", project_schema_id=schema_id)["id"]}
    ids["other"] = call.create("Project", name="examples-other", project_schema_id=schema_id)["id"]
    ids["shot"] = call.create("Shot", name="sh010", parent_id=ids["project"])["id"]
    for name, parent in (("comp", "shot"), ("anim", "shot"), ("roto", "other")):
        ids[name] = call.create("Task", name=name, parent_id=ids[parent])["id"]
    ids["fstart"] = call.create("CustomAttributeConfiguration", key="fstart", entity_type="task", label="Start",
                                object_type_id=OBJECT_TYPES["Shot"][0], type_id=kinds["number"], default=1001)["id"]  # fmt: skip
    return ids


@pytest.mark.parametrize("query", ['SecurityRole where name is "Project Manager" and type is "PROJECT"',
                                   'Status where name is "On Hold" and state.short is "BLOCKED"',
                                   'Status where name is "Pending" and state.short is "IN_PROGRESS"',
                                   'Type where name is "Deliverable"',
                                   f'ObjectType where name is "Asset Build" and id is "{ASSET_BUILD}"'])  # fmt: skip
def test_ftracks_stock_data_is_there_under_ftracks_names(call, query):
    assert len(call.query(query)) == 1


def test_the_renamed_status_keeps_its_id_and_deliverable_is_a_default_task_type(call):
    assert call.query('Status where name is "On Hold"')[0]["id"] == seed_id("status", "On hold")
    spelled = [s["name"] for s in call.query('select name from Status where name is "On hold"')]
    assert spelled == ["On Hold"]  # one status, ftrack's spelling (found whatever the case)
    names = [t["name"] for t in call.query('select types.name from TaskTypeSchema where name is "Default task types"')[0]["types"]]
    assert "Deliverable" in names


def test_a_group_by_answer_carries_its_keys_as_ftracks_does(call, studio):
    rows = call.query(f"select count(id) from Task where project_id in ({studio['project']}, {studio['other']}) "
                      "group by project_id, status_id")  # fmt: skip
    counted = {(row["project_id"], row["status_id"]): row["count_id"] for row in rows}
    not_started = call.query('Status where name is "Not started"')[0]["id"]
    assert counted == {(studio["project"], not_started): 2, (studio["other"], not_started): 1}
    # A key also selected is there once.
    rows = call.query(f"select status_id, count(id) from Task where project_id is {studio['project']} group by status_id")
    assert rows and all(set(row) >= {"status_id", "count_id"} for row in rows)


def value_of(call, configuration, entity):
    return call.query(f"select value from CustomAttributeValue where configuration_id is {configuration} "
                      f"and entity_id is {entity}")  # fmt: skip


def test_a_custom_attribute_value_of_the_wrong_type_is_refused_and_nothing_stored(call, studio):
    error = call.error({"action": "update", "entity_type": "ContextCustomAttributeValue",
                        "entity_key": [studio["fstart"], studio["shot"]], "entity_data": {"value": "test"}})  # fmt: skip
    assert error["error_code"] == "wrong_type"
    assert 'Custom attribute value for "fstart" must be of type number. Got "test" of type text' in error["content"]
    assert value_of(call, studio["fstart"], studio["shot"]) == []
    call({"action": "update", "entity_type": "ContextCustomAttributeValue",
          "entity_key": [studio["fstart"], studio["shot"]], "entity_data": {"value": 1009}})  # fmt: skip
    assert [row["value"] for row in value_of(call, studio["fstart"], studio["shot"])] == [1009]
    error = call.error({"action": "update", "entity_type": "ContextCustomAttributeValue",
                        "entity_key": [studio["fstart"], studio["shot"]], "entity_data": {"value": True}})  # fmt: skip
    assert error["error_code"] == "wrong_type"
    assert [row["value"] for row in value_of(call, studio["fstart"], studio["shot"])] == [1009]


@pytest.mark.parametrize("kind, good, bad", [("text", "some text", 12), ("boolean", False, "yes"),
                                             ("enumerator", ["a", "b"], "a"),
                                             ("date", {"__type__": "datetime", "value": "2017-02-08T00:00:00"}, "soon")])  # fmt: skip
def test_each_type_takes_its_values_only(call, studio, kind, good, bad):
    configuration = call.create("CustomAttributeConfiguration", key=f"typed_{kind}", entity_type="task", label=kind,
                                object_type_id=OBJECT_TYPES["Task"][0], type_id=studio["kinds"][kind])["id"]  # fmt: skip
    key = [configuration, studio["comp"]]
    error = call.error({"action": "update", "entity_type": "ContextCustomAttributeValue", "entity_key": key,
                        "entity_data": {"value": bad}})  # fmt: skip
    assert error["error_code"] == "wrong_type" and f"must be of type {kind}" in error["content"]
    assert value_of(call, configuration, studio["comp"]) == []
    call({"action": "update", "entity_type": "ContextCustomAttributeValue", "entity_key": key, "entity_data": {"value": good}})
    assert [row["value"] for row in value_of(call, configuration, studio["comp"])] == [good]


def test_a_configuration_with_a_date_default_is_kept_and_read_back_as_a_date(call, studio):
    default = {"__type__": "datetime", "value": "2017-02-08T00:00:00"}
    made = call.create("CustomAttributeConfiguration", key="date_attribute", entity_type="assetversion", label="Date",
                       type_id=studio["kinds"]["date"], default=default)  # fmt: skip
    assert made["default"] == default
    assert call.query(f"select default from CustomAttributeConfiguration where id is {made['id']}")[0]["default"] == default


def test_a_second_configuration_with_the_same_key_and_entity_type_is_refused(call, studio):
    before = len(call.query("CustomAttributeConfiguration"))
    error = call.error({"action": "create", "entity_type": "CustomAttributeConfiguration", "entity_key": ["again"],
                        "entity_data": {"id": "again", "key": "fstart", "entity_type": "task", "label": "Again",
                                        "object_type_id": OBJECT_TYPES["Shot"][0],
                                        "type_id": studio["kinds"]["number"]}})  # fmt: skip
    assert error["error_code"] == "duplicate_key" and "'fstart'" in error["content"] and studio["fstart"] in error["content"]
    assert len(call.query("CustomAttributeConfiguration")) == before
    # The same key for another kind of entity is another attribute.
    call.create("CustomAttributeConfiguration", key="fstart", entity_type="assetversion", label="Start",
                type_id=studio["kinds"]["number"])  # fmt: skip


def test_a_link_made_of_its_three_ids_takes_its_entity_types_from_the_configuration(call, studio):
    user = call.query('User where username is "admin"')[0]["id"]
    configuration = call.create("CustomAttributeLinkConfiguration", key="supervisor", label="Supervisor",
                                entity_type="task", object_type_id=OBJECT_TYPES["Task"][0], entity_type_to="user",
                                one_to_one=True, config="{}")["id"]  # fmt: skip
    call.create("CustomAttributeLink", from_id=studio["comp"], to_id=user, configuration_id=configuration)
    link = call.query(f"select from_entity_type, to_entity_type from CustomAttributeLink "
                      f"where configuration.key is supervisor and from_id is {studio['comp']}")[0]  # fmt: skip
    assert (link["from_entity_type"], link["to_entity_type"]) == ("Context", "User")
    found = call.query(f'select name from Task where custom_attribute_links any '
                       f'(configuration.key is "supervisor" and to_id is {user})')  # fmt: skip
    assert [task["name"] for task in found] == ["comp"]


def test_a_link_is_found_by_its_other_end_as_ftracks_documentation_queries_it(call, studio):
    """``custom_attribute_links`` name the end a link goes to, ``…_from`` the end it comes from."""
    user = call.query('User where username is "admin"')[0]["id"]
    configuration = call.create("CustomAttributeLinkConfiguration", key="lead", label="Lead", entity_type="task",
                                object_type_id=OBJECT_TYPES["Task"][0], entity_type_to="user", config="{}")["id"]  # fmt: skip
    call.create("CustomAttributeLink", from_id=studio["anim"], to_id=user, configuration_id=configuration)
    found = call.query('select name from Task where custom_attribute_links any '
                       '(configuration.key is "lead" and user.username is "admin")')  # fmt: skip
    assert [task["name"] for task in found] == ["anim"]
    assert call.query('select name from Task where custom_attribute_links any '
                      '(configuration.key is "lead" and user.username is "nobody")') == []  # fmt: skip
    users = call.query('select username from User where custom_attribute_links_from any '
                       '(configuration.key is "lead" and context.name is "anim")')  # fmt: skip
    assert [u["username"] for u in users] == ["admin"]
    link = call.query('select user.username, context from CustomAttributeLink where configuration.key is "lead"')[0]
    assert link["user"]["username"] == "admin" and link["__entity_type__"] == "UserCustomAttributeLink"


@pytest.mark.parametrize("query, names", [
    ('select name from ObjectType where name is "task"', ["Task"]),
    ('select name from ObjectType where name is "ASSET BUILD"', ["Asset Build"]),
    ('select name from ObjectType where name in ("shot", "SEQUENCE") order by name', ["Sequence", "Shot"]),
    ('select name from Status where name is "on hold"', ["On Hold"]),
    ('select name from Task where name is "COMP" and parent.name is "SH010"', ["comp"]),
    ('select name from Task where name is_not "Comp" and project.name is "Examples"', ["anim"]),
    ('select name from Task where name like "Ro%"', ["roto"]),  # like ignored case already
])  # fmt: skip
def test_text_compares_without_the_case_of_its_letters_as_on_ftracks_server(call, studio, query, names):
    assert [row["name"] for row in call.query(query)] == names


def test_identifiers_and_other_alphabets_compare_exactly_the_same_on_both_databases(call, studio):
    assert call.query(f'select name from Task where id is "{studio["comp"].upper()}"') == []
    call.create("Task", name="Évaluation", parent_id=studio["shot"])
    assert [t["name"] for t in call.query('select name from Task where name is "ÉVALUATION"')] == ["Évaluation"]
    assert call.query('select name from Task where name is "évaluation"') == []  # only A–Z fold, on both databases


def test_a_query_kept_for_its_shape_folds_each_requests_values(call, studio):
    for name in ("comp", "ANIM", "Roto"):  # one shape, its values bound anew each time
        found = call.query(f'select name from Task where name is "{name}" and name in ("{name}", "x")')
        assert [row["name"] for row in found] == [name.lower()]


def test_ftracks_external_note_label_is_seeded_under_the_id_external_had(call):
    for kind in ("NoteLabel", "NoteCategory"):
        rows = call.query(f'select name from {kind} where name is "External Note"')
        assert [(row["id"], row["name"]) for row in rows] == [(seed_id("note category", "External Note"), "External Note")]
    assert seed_id("note category", "External Note") == seed_id("note category", "External")


def test_a_review_session_made_without_its_end_is_open_for_a_week(call, studio):
    made = call.create("ReviewSession", name="Weekly review", project_id=studio["project"])
    row = call.query(f'select start_date, end_date, is_open from ReviewSession where id is "{made["id"]}"')[0]
    assert row["is_open"] is True
    assert row["end_date"] is not None and row["start_date"] is not None
