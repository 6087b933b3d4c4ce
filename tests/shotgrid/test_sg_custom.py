"""``schema_field_create`` / ``_update`` / ``_delete``: ``sg_*`` fields as our custom attributes, through shotgun_api3.

A field made on Asset is a custom attribute of ours for the AssetBuild object type: ftrack's API
reads it under ``custom_attributes``, ShotGrid scripts read, set, filter and clear it (0 is not
None). On SQLite and PostgreSQL (``ftrack-like serve`` on 127.0.0.1).
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

CUSTOM = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="custom", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Custom"})
    asset = sg.create("Asset", {"project": project, "code": "chair"})
    field = sg.schema_field_create("Asset", "number", "Api Tests Number Field", properties={"description": "legs"})
    said["field"] = field
    said["read"] = sg.schema_field_read("Asset", field)[field]["data_type"]["value"]
    said["on_shot"] = field in sg.schema_field_read("Shot")
    said["in_schema"] = field in sg.schema_read()["Asset"]
    sg.update("Asset", asset["id"], {field: None})
    said["none"] = sg.find("Asset", [["id", "is", asset["id"]], [field, "is_not", None]], [field])
    sg.update("Asset", asset["id"], {field: 0})
    said["zero"] = sg.find("Asset", [["id", "is", asset["id"]], [field, "is_not", None]], [field])
    said["made"] = sg.create("Asset", {"project": project, "code": "table", field: 4}, return_fields=[field])
    said["more_than_zero"] = [a["code"] for a in sg.find("Asset", [[field, "greater_than", 0]], ["code"])]
    said["unset"] = [a["code"] for a in sg.find("Asset", [[field, "is", None]], ["code"])]
    said["updated"] = sg.schema_field_update("Asset", field, {"description": "four legs"})
    text = sg.schema_field_create("Shot", "text", "Cut Notes")
    shot = sg.create("Shot", {"project": project, "code": "sh010", text: "tight"}, return_fields=[text])
    said["text"] = shot[text]
    for name, call in {
        "exists": lambda: sg.schema_field_create("Asset", "number", "Api tests number field"),
        "bad_type": lambda: sg.schema_field_create("Asset", "pivot_column", "Pivot"),
        "not_made_here": lambda: sg.schema_field_delete("Asset", "code"),
    }.items():
        try:
            call()
        except shotgun_api3.Fault as fault:
            said[name] = str(fault)
    said["deleted"] = sg.schema_field_delete("Shot", text)
    try:
        sg.find("Shot", [[text, "is", "tight"]])
    except shotgun_api3.Fault as fault:
        said["gone"] = str(fault)
    said["asset"] = asset["id"]
    print(json.dumps(said))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "custom")
    return database, key


def test_fields_made_with_schema_field_create_are_custom_attributes(shotgun_python, studio, serve):
    database, key = studio
    with serve(database) as url:
        run = subprocess.run([shotgun_python, "-c", CUSTOM, url, key], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.strip().splitlines()[-1])
    field = said["field"]
    assert field == "sg_api_tests_number_field" and said["read"] == "number"
    assert said["on_shot"] is False and said["in_schema"] is True
    assert said["none"] == [] and said["zero"] == [{"type": "Asset", "id": said["asset"], field: 0}]
    assert said["made"][field] == 4 and said["more_than_zero"] == ["table"] and said["unset"] == []
    assert said["updated"] is True and said["text"] == "tight"
    assert "Asset.sg_api_tests_number_field exists already" in said["exists"]
    assert "not 'pivot_column'" in said["bad_type"]
    assert "Asset.code is not a field made by schema_field_create" in said["not_made_here"]
    assert said["deleted"] is True and "Shot.sg_cut_notes doesn't exist" in said["gone"]
    with Backend.from_url(database) as backend:  # the same values, as ftrack's API reads them
        answer = backend.execute([{"action": "query", "expression": "select name, custom_attributes from AssetBuild "
                                                                    "order by name"}], "admin")  # fmt: skip
        values = {row["name"]: {c["key"]: c["value"] for c in row["custom_attributes"]} for row in answer[0]["data"]}
        assert values == {"chair": {field: 0}, "table": {field: 4}}
        (configuration,) = backend.execute([{"action": "query", "expression": "select label, config from "
                                             f'CustomAttributeConfiguration where key is "{field}"'}], "admin")[0]["data"]  # fmt: skip
        assert configuration["label"] == "Api Tests Number Field" and json.loads(configuration["config"])["description"] == "four legs"
