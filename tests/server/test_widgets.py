"""ftrack's widgets: ``get_widget_url`` answers a signed link to a small page that shows what the user may read, for
six minutes; through ftrack's official client and over plain HTTP."""

import json
import subprocess
import textwrap
import uuid

import pytest
import requests

pytest.importorskip("uvicorn", reason="the server extra is not installed")

OFFICIAL = textwrap.dedent(
    """
    import json, sys
    import ftrack_api, requests

    server, user, key, task_id = sys.argv[1:5]
    session = ftrack_api.Session(server_url=server, api_user=user, api_key=key, auto_connect_event_hub=False,
                                 schema_cache_path=False)
    task = session.get("Task", task_id)
    said = {}
    for name, entity in (("tasks", None), ("info", task)):
        url = session.get_widget_url(name, entity=entity, theme="light")
        page = requests.get(url, timeout=30)
        said[name] = {"url": url, "status": page.status_code, "type": page.headers.get("content-type"),
                      "text": page.text}
    print(json.dumps(said))
    """
)


@pytest.fixture(scope="module")
def task(call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    project = call.create("Project", name=f"w{uuid.uuid4().hex[:6]}", full_name="Widgets <&>", project_schema_id=schema)
    shot = call.create("Shot", name="sh010", parent_id=project["id"])
    task = call.create("Task", name="comp <b>", parent_id=shot["id"])
    admin = call.query('select id from User where username is "admin"')[0]["id"]
    call.create("Appointment", context_id=task["id"], resource_id=admin, type="assignment")
    return task


def test_the_official_client_opens_its_widgets(server, admin_key, task, official_python):
    ran = subprocess.run([official_python, "-c", OFFICIAL, server, "admin", admin_key, task["id"]], capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    said = json.loads(ran.stdout.strip().splitlines()[-1])
    for name in ("tasks", "info"):
        assert said[name]["url"].startswith(f"{server}/widget/{name}?token=")
        assert said[name]["status"] == 200 and said[name]["type"].startswith("text/html")
    assert "comp &lt;b&gt;" in said["tasks"]["text"] and "<b>" not in said["tasks"]["text"]  # escaped
    assert 'class="light"' in said["info"]["text"] and "comp &lt;b&gt;" in said["info"]["text"]


def test_a_widget_link_is_for_its_widget_and_shows_only_what_its_user_reads(server, admin_key, task, backend, call):
    headers = {"ftrack-user": "admin", "ftrack-api-key": admin_key}
    answer = requests.post(f"{server}/api", json=[{"action": "get_widget_url", "name": "info", "entity_type": "Task",
                                                   "entity_key": [task["id"]]}], headers=headers, timeout=30)  # fmt: skip
    url = answer.json()[0]["widget_url"]
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text.lower()
    # Another widget's name, a changed token, no token: refused, as JSON.
    for wrong in (url.replace("/widget/info", "/widget/tasks"), url[:-3] + "abc", url.split("?")[0]):
        refused = requests.get(wrong, timeout=30)
        assert refused.status_code == 403 and refused.json()["exception"] == "PermissionError", wrong
    # A user who may not read the project is shown nothing of it.
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    call.create("Project", name="elsewhere", full_name="Elsewhere", project_schema_id=schema)
    call.create("User", username="outsider", is_active=True)
    backend.auth.grant("outsider", "elsewhere")  # a freelancer: that project only
    outsider = backend.auth.create_key("outsider", "tests")
    theirs = requests.post(f"{server}/api", json=[{"action": "get_widget_url", "name": "info", "entity_type": "Task",
                                                   "entity_key": [task["id"]]}],
                           headers={"ftrack-user": "outsider", "ftrack-api-key": outsider}, timeout=30)  # fmt: skip
    shown = requests.get(theirs.json()[0]["widget_url"], timeout=30)
    assert shown.status_code == 404 and "comp" not in shown.text
    # A name ftrack does not have, and info without an entity: clear errors.
    for bad in ({"name": "nope"}, {"name": "info"}):
        error = requests.post(f"{server}/api", json=[{"action": "get_widget_url", **bad}], headers=headers, timeout=30).json()
        assert error["exception"] == "ValidationError", error
