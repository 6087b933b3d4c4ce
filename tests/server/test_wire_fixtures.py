"""Our answers have the shape of a real ftrack server's (shared/data/ftrack-wire-fixtures)."""

import json
import pathlib
import uuid

import pytest

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ftrack-wire"


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def shape(value):
    """The structure of a wire value: keys and kinds, not contents.

    A list is the multiset of its items' shapes: collection items come in key order, and
    the keys are random uuids, so which item is the full encoding and which a reference
    may change places.
    """
    if isinstance(value, dict):
        if "__type__" in value:
            return f"<{value['__type__']}>"
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((shape(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    if value is None:
        return "<null>"
    return f"<{type(value).__name__ if not isinstance(value, float) else 'int'}>"


@pytest.fixture(scope="module")
def data(call):
    schema_id = call.query("ProjectSchema")[0]["id"]
    project = call.create("Project", name="wire", full_name="Wire", project_schema_id=schema_id)["id"]
    not_started = call.query('Status where name is "Not started"')[0]["id"]
    for name in ("first", "second", "third"):  # more than a page of two
        call.create("Task", name=name, parent_id=project, status_id=not_started)
    asset = call.create("Asset", name="hero", context_id=project)["id"]
    for _ in range(3):
        call.create("AssetVersion", asset_id=asset)
    return project


def query(call, expression):
    return call({"action": "query", "expression": expression})[0]


@pytest.mark.parametrize(
    "name, expression",
    [
        ("query_select_name_from_task_limit_1", "select name from Task limit 1"),
        ("query_select_name,_created_at_from_task_limit_1", "select name, created_at from Task limit 1"),
        ("query_select_status.state.short_from_task_where_status.state.short_is_not_started_limit_1",
         "select status.state.short from Task where status.state.short is NOT_STARTED limit 1"),
        ("query_select_status.state.short_from_task_where_status.state.short_is_not_started_limit_2",
         "select status.state.short from Task where status.state.short is NOT_STARTED limit 2"),
        ("query_select_version,_asset.versions.version_from_assetversion_where_asset_id_is_not_none_limit_1",
         "select version, asset.versions.version from AssetVersion where asset_id is_not None "
         "order by version limit 1"),
    ],
)
def test_query_answers_have_the_real_shape(call, data, name, expression):
    answer = query(call, expression)
    assert isinstance(answer["metadata"]["next"].pop("after", ""), str)  # ours: the cursor of paging by key
    assert shape(answer) == shape(fixture(name))


def test_server_information_has_the_real_keys(call):
    ours = call({"action": "query_server_information"})[0]
    # Ours beside ftrack's (its client ignores keys it does not know): what one batch may hold,
    # what the server does beyond ftrack's protocol, and that a query may ask for the compact answer
    # (and name its listing).
    extras = {"max_operations", "max_body", "features", "compact_answers", "compact_listings"}
    assert set(ours) - set(fixture("query_server_information")) == extras
    assert shape({k: v for k, v in ours.items() if k not in extras}) == shape(fixture("query_server_information"))


def test_update_answers_have_the_real_shape(call):
    user = call.create("User", username=f"u{uuid.uuid4().hex[:8]}")["id"]
    ours = call({"action": "update", "entity_type": "User", "entity_key": [user],
                 "entity_data": {"username": f"renamed-{user}"}})[0]
    assert shape(ours) == shape(fixture("update_user"))


def test_create_answers_carry_the_real_keys_we_have(call, backend):
    real = fixture("create_user")
    ours = call({"action": "create", "entity_type": "User", "entity_key": [str(uuid.uuid4())],
                 "entity_data": {"username": str(uuid.uuid4()), "first_name": "first", "last_name": "last",
                                 "is_active": False}})[0]
    assert ours["action"] == "create"
    attributes = set(backend.schema["User"].attributes)
    expected = {k for k in real["data"] if k in attributes or k == "__entity_type__"}
    assert expected <= set(ours["data"])
    assert {k: shape(ours["data"][k]) for k in expected} == {k: shape(real["data"][k]) for k in expected}
