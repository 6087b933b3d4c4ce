"""Custom attributes as ftrack has them: every one that applies, its default where none is stored."""

import pytest

TASK = "11c137c0-ee7e-4f9c-91c5-8c77cec22b2c"
SHOT = "bad911de-3bd6-47b9-8b46-3476e237cb36"


@pytest.fixture(scope="module")
def studio(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    kinds = {t["name"]: t["id"] for t in call.query("select name from CustomAttributeType")}
    ids = {"project": call.create("Project", name="ca", project_schema_id=schema_id)["id"]}
    ids["other"] = call.create("Project", name="ca-other", project_schema_id=schema_id)["id"]
    ids["shot"] = call.create("Shot", name="sh010", parent_id=ids["project"])["id"]
    ids["task"] = call.create("Task", name="comp", parent_id=ids["shot"])["id"]
    ids["sibling"] = call.create("Task", name="anim", parent_id=ids["shot"])["id"]
    ids["elsewhere"] = call.create("Task", name="roto", parent_id=ids["other"])["id"]
    ids["fps"] = call.create("CustomAttributeConfiguration", key="fps", entity_type="task", object_type_id=TASK,
                             type_id=kinds["number"], default=24)["id"]
    ids["cut_in"] = call.create("CustomAttributeConfiguration", key="cut_in", entity_type="task", object_type_id=SHOT,
                                type_id=kinds["number"], default=1001)["id"]
    ids["budget"] = call.create("CustomAttributeConfiguration", key="budget", entity_type="show",
                                type_id=kinds["number"], default=0)["id"]
    ids["client"] = call.create("CustomAttributeConfiguration", key="client", entity_type="task", object_type_id=TASK,
                                project_id=ids["other"], type_id=kinds["text"], default="nobody")["id"]
    ids["vendor"] = call.create("CustomAttributeConfiguration", key="vendor", entity_type="context",
                                is_hierarchical=True, type_id=kinds["text"], default="inhouse")["id"]
    call({"action": "create", "entity_type": "ContextCustomAttributeValue", "entity_key": [ids["vendor"], ids["shot"]],
          "entity_data": {"configuration_id": ids["vendor"], "entity_id": ids["shot"], "value": "acme"}})
    return ids


def attributes(call, entity_type, key):
    row = call.query(f"select custom_attributes from {entity_type} where id is {key}")[0]
    return {value["key"]: value["value"] for value in row["custom_attributes"]}


def test_each_entity_has_the_attributes_that_apply_to_it(call, studio):
    assert attributes(call, "Task", studio["task"]) == {"fps": 24, "vendor": "inhouse"}
    assert attributes(call, "Shot", studio["shot"]) == {"cut_in": 1001, "vendor": "acme"}
    assert attributes(call, "Project", studio["project"]) == {"budget": 0, "vendor": "inhouse"}
    # A configuration for one project only applies there.
    assert attributes(call, "Task", studio["elsewhere"]) == {"fps": 24, "client": "nobody", "vendor": "inhouse"}


def test_setting_a_value_that_is_not_stored_stores_it(call, studio):
    key = [studio["fps"], studio["task"]]
    answer = call({"action": "update", "entity_type": "ContextCustomAttributeValue", "entity_key": key,
                   "entity_data": {"value": 25}})[0]
    assert answer["data"]["value"] == 25 and answer["data"]["key"] == "fps"
    assert attributes(call, "Task", studio["task"])["fps"] == 25
    assert attributes(call, "Task", studio["sibling"])["fps"] == 24
    call({"action": "update", "entity_type": "ContextCustomAttributeValue", "entity_key": key, "entity_data": {"value": 30}})
    assert attributes(call, "Task", studio["task"])["fps"] == 30


def test_a_hierarchical_value_read_on_a_task_is_the_tasks_own_as_on_ftrack(call, studio):
    """ftrack answers with the raw value (its docs: "when read they are not calculated"), not the parent's."""
    assert attributes(call, "Shot", studio["shot"])["vendor"] == "acme"
    assert attributes(call, "Task", studio["sibling"])["vendor"] == "inhouse"  # the default: nothing stored on it
    call({"action": "update", "entity_type": "ContextCustomAttributeValue",
          "entity_key": [studio["vendor"], studio["sibling"]], "entity_data": {"value": "own"}})
    assert attributes(call, "Task", studio["sibling"])["vendor"] == "own"
    assert attributes(call, "Task", studio["task"])["vendor"] == "inhouse"
    # The inherited value is the nearest ancestor's stored one: a query of the ancestors finds it.
    found = call.query(f'select name from Shot where descendants any (id is {studio["task"]}) and '
                       'custom_attributes any (key is "vendor")')  # fmt: skip
    assert [shot["name"] for shot in found] == ["sh010"]


def test_an_update_of_a_custom_attribute_that_does_not_exist_is_still_refused(call, studio):
    error = call.error({"action": "update", "entity_type": "ContextCustomAttributeValue",
                        "entity_key": ["no-such-configuration", studio["task"]], "entity_data": {"value": 1}})
    assert error["error_code"] == "missing_reference"
