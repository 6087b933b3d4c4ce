"""The official ``aquarium-python-api`` client, unchanged, against ``ftrack-like serve`` on 127.0.0.1.

The client runs in a virtual environment of its own (``conftest.py``), driven by a script
that prints what it saw as JSON; each test then checks it, and what our own Session reads
of the same studio.
"""

import json
import subprocess
import textwrap

import pytest
import requests

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

PASSWORD = "correct horse battery"

PRODUCTION = textwrap.dedent(
    """
    import json, logging, sys
    from aquarium import Aquarium
    from aquarium.exceptions import AuthentificationError, ConflictError, PathNotFoundError, RequestError

    url, password, personal, media = sys.argv[1:5]
    seen = []

    class Seen(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logging.getLogger("aquarium").addHandler(Seen())
    logging.getLogger("aquarium").setLevel(logging.DEBUG)
    said = {}
    aq = Aquarium(api_url=url + "/")
    said["ping"] = aq.ping()
    said["status"] = aq.get_server_status()["status"]
    signed = aq.signin("admin", password)
    said["signin"] = [signed["status"], signed["user"].type]
    token = aq.token
    again = Aquarium(api_url=url + "/", token=token)
    said["reused"] = again.me().type
    said["personal"] = Aquarium(api_url=url + "/", token=personal).me()._key == again.me()._key

    project = aq.item.create(type="Project", data={"name": "Coming from Aquarium", "completion": 0.5, "fps": 24})
    sequence = project.append(type="Sequence", data={"name": "sq010"}).item
    shots = [sequence.append(type="Shot", data={"name": "sh%03d" % i, "frameIn": 1001 + i}).item for i in range(3)]
    tasks = [shot.append(type="Task", data={"name": "comp", "status": "WIP"}).item for shot in shots]
    kept = project.append(type="Properties", data={"name": "props", "tasks_status": {"status": "WIP"}}).item

    seen.clear()
    said["projects"] = [[p.type, p.data.name, p.__class__.__name__] for p in aq.project.get_all()]
    said["get_all_log"] = [m for m in seen if "meshql" in m]
    got = aq.item(shots[1]._key).get()
    said["got"] = [got.__class__.__name__, got.type, got.data.name, got.data.frameIn, got.createdAt[-5:]]
    said["cast"] = aq.cast(got.to_dict()).__class__.__name__
    said["kept"] = [aq.item(kept._key).get().type, aq.item(kept._key).get().data.tasks_status.status]

    view = {"shot": "item.data.name", "tasks": "# -($Child)> $Task VIEW item.data.name",
            "first": "FIRST(# -($Child)> 0,1 $Task VIEW item._key)"}
    said["traverse"] = project.traverse("# -($Child, 5)> 0, 0 $Shot AND item.data.name IN @names SORT item.data.name DESC VIEW $view",
                                        aliases={"names": ["sh000", "sh002"], "view": view})
    said["shots"] = [[s.item.data.name, s.edge.type, [t.data.name for t in s.tasks]] for s in aq.project(project._key).get_shots()]
    said["statuses"] = aq.project(project._key).get_statuses()

    me = aq.me()
    said["assigned"] = tasks[0].assign_to(me._key).type
    try:
        tasks[0].assign_to(me._key)
    except ConflictError as error:
        said["assigned_twice"] = str(error).split(" - url")[0]
    said["my_tasks"] = [[t.item.data.name, t.edge.type] for t in aq.user(me._key).get_tasks()]
    said["my_tasks_in_project"] = len(aq.user(me._key).get_tasks(project_key=project._key))
    said["my_tasks_elsewhere"] = len(aq.user(me._key).get_tasks(project_key=sequence._key + "x"))
    said["assignees"] = [u.item.type for u in tasks[0].get_assigned_users()]

    project.update_data({"nested": {"a": 1}})
    said["merged"] = aq.item(project._key).update_data({"nested": {"b": 2}, "fps": 25}).data.toDict()
    said["replaced"] = aq.item(kept._key).replace_data({"name": "props2"}).data.toDict()

    uploaded = aq.shot(shots[0]._key).upload_on_task(task_name="comp", path=media, version_name="v001")
    said["media"] = {k: uploaded.item.data[k] for k in ("name", "originalname", "extension", "mimetype", "size")}
    said["media_path"] = uploaded.item.data["path"]
    said["media_bytes"] = aq.get_file(uploaded.item.data["path"]).decode()
    said["versions"] = [v.item.data.name for v in tasks[0].get_children(types="Version")]

    edge = aq.edge.create("Dependency", shots[0]._key, shots[1]._key, {"why": "layout"})
    said["edge"] = [edge.type, edge._from, edge._to, edge.data.toDict()]
    try:
        aq.edge.create("Dependency", shots[0]._key, shots[1]._key)
    except ConflictError as error:
        said["edge_twice"] = str(error).split(" - url")[0]
    said["edge_merged"] = aq.edge(edge._key).update_data({"how": {"x": 1}}).data.toDict()
    said["edge_got"] = aq.edge(edge._key).get().data.toDict()
    said["dependencies"] = [d.item.data.name for d in aq.task(shots[0]._key).get_dependencies()] + \\
        [d.item.data.name for d in aq.task(shots[1]._key).get_dependencies()]
    edge.delete()
    said["edge_gone"] = len(aq.task(shots[1]._key).get_dependencies())

    shots[2].trash()
    said["trashed"] = [i["item"]["type"] for i in shots[2].traverse("# <($Trash)- *")]
    aq.item(shots[2]._key).restore()
    said["restored"] = len(shots[2].traverse("# <($Trash)- *"))
    shots[2].delete()
    try:
        aq.item(shots[2]._key).get()
    except PathNotFoundError as error:
        said["deleted"] = str(error).split(" - url")[0]
    try:
        aq.query("# -($Child> *")
    except RequestError as error:
        said["bad_query"] = str(error).split(" - url")[0]
    try:
        aq.query("# $Shot COLLECT x = 1")
    except RequestError as error:
        said["refused"] = str(error).split(" - url")[0]

    group = aq.item.create(type="Usergroup", data={"name": "comp team", "color": "red"})
    said["group"] = [group.__class__.__name__, group.data.toDict()]
    said["joined"] = aq.usergroup(group._key).add_user(me._key)["type"]
    said["members"] = [u.data.name for u in aq.usergroup(group._key).get_users()]
    try:
        aq.usergroup(group._key).add_user(me._key)
    except ConflictError as error:
        said["joined_twice"] = str(error).split(" - url")[0]

    said["project"] = project._key
    said["shot_keys"] = [s._key for s in shots]
    again.signout()
    try:
        Aquarium(api_url=url + "/", token=token).me()
    except AuthentificationError as error:
        said["signed_out"] = str(error).split(" - url")[0]
    print(json.dumps(said, default=str))
    """
)


@pytest.fixture(scope="module")
def studio(database, tmp_path_factory):
    """The database, with a password and an API key for ``admin``, and a personal token of theirs."""
    with Backend.from_url(database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        key = backend.auth.create_key("admin", "pipeline")
        with backend.engine.connect() as connection:
            user_id = backend.auth.user_id(connection, "admin")
        personal, _ = backend.auth.create_personal_token(user_id, "laptop")
    return database, key, personal, tmp_path_factory.mktemp("files")


def _run(python, script, *arguments):
    run = subprocess.run([python, "-c", script, *arguments], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_production_through_the_official_aquarium_client(aquarium_python, studio, serve, tmp_path):
    database, key, personal, files = studio
    media = tmp_path / "sh000_comp_v001.txt"
    media.write_text("frames of sh000")
    with serve(database, "--storage", str(files)) as url:
        said = _run(aquarium_python, PRODUCTION, url, PASSWORD, personal, str(media))
        session = Session(server_url=url, api_user="admin", api_key=key)
        shots = [(s["name"], s["parent"]["name"]) for s in session.query(
            f'select name, parent.name from Shot where project_id is "{said["project"]}" order by name').all()]
        assignees = [a["resource"]["username"] for a in session.query(
            f'select resource.username from Appointment where context.project_id is "{said["project"]}"').all()]
        groups = [(g["name"], [m["user"]["username"] for m in g["memberships"]]) for g in session.query(
            "select name, memberships.user.username from Group").all()]
        component = session.query(f'FileComponent where id is "{said["media_path"].split("/")[-1].split(".")[0]}"').one()["name"]
        seen_files = requests.get(url + said["media_path"], headers={"authorization": personal}, timeout=10)
        session.close()

    assert said["ping"] == "pong" and said["status"] == "ok"
    assert said["signin"] == ["ok", "User"]
    assert said["reused"] == "User" and said["personal"] is True
    assert said["projects"] == [["Project", "Coming from Aquarium", "Project"]]
    assert said["get_all_log"][0].startswith("Send query : meshql : # $Project AND item.data.completion != 1")
    assert said["got"][:4] == ["Shot", "Shot", "sh001", 1002] and said["got"][4].endswith("Z")
    assert said["cast"] == "Shot"
    assert said["kept"] == ["Properties", "WIP"]
    assert said["traverse"] == [
        {"shot": "sh002", "tasks": ["comp"], "first": said["traverse"][0]["first"]},
        {"shot": "sh000", "tasks": ["comp"], "first": said["traverse"][1]["first"]},
    ]
    assert all(row["first"] for row in said["traverse"])
    assert said["shots"] == [["sh000", "Child", ["comp"]], ["sh001", "Child", ["comp"]], ["sh002", "Child", ["comp"]]]
    assert said["statuses"] == {"WIP": {"status": "WIP"}}
    assert said["assigned"] == "Assigned" and "exists already" in said["assigned_twice"]
    assert said["my_tasks"] == [["comp", "Assigned"]]
    assert said["my_tasks_in_project"] == 1 and said["my_tasks_elsewhere"] == 0
    assert said["assignees"] == ["User"]
    assert said["merged"] == {"name": "Coming from Aquarium", "completion": 0.5, "fps": 25, "nested": {"a": 1, "b": 2}}
    assert said["replaced"] == {"name": "props2"}
    assert said["media"] == {"name": media.name, "originalname": media.name, "extension": ".txt", "mimetype": "text/plain",
                             "size": len("frames of sh000")}  # fmt: skip
    assert said["media_bytes"] == "frames of sh000"
    assert said["versions"] == ["v001"]
    assert said["edge"][0] == "Dependency" and said["edge"][3] == {"why": "layout"}
    assert "exists already" in said["edge_twice"]
    assert said["edge_merged"] == said["edge_got"] == {"why": "layout", "how": {"x": 1}}
    assert said["dependencies"] == ["sh001", "sh000"] and said["edge_gone"] == 0
    assert said["trashed"] == ["User"] and said["restored"] == 0
    assert "not found" in said["deleted"]
    assert "column 9" in said["bad_query"] or "line 1" in said["bad_query"]
    assert "COLLECT is not served" in said["refused"]
    assert said["signed_out"]

    # Our own Session sees the same production.
    assert shots == [("sh000", "sq010"), ("sh001", "sq010")]
    assert assignees == ["admin"]
    assert said["group"] == ["Usergroup", {"name": "comp team", "color": "red"}]
    assert said["joined"] == "Member" and said["members"] == ["Studio"] and "exists already" in said["joined_twice"]
    assert groups == [("comp team", ["admin"])]
    assert component == "sh000_comp_v001" and seen_files.content == b"frames of sh000"


def test_errors_are_json_with_the_status_the_client_maps(studio, serve):
    database, _, personal, files = studio
    with serve(database, "--storage", str(files)) as url:
        unknown = requests.get(f"{url}/v1/items/nope", headers={"authorization": personal}, timeout=10)
        wrong_method = requests.put(f"{url}/v1/query", headers={"authorization": personal}, timeout=10)
        no_token = requests.post(f"{url}/v1/query", json={"query": "# $Shot"}, timeout=10)
        bearer = requests.post(f"{url}/v1/query", json={"query": "# $User"}, headers={"authorization": f"Bearer {personal}"}, timeout=10)
        not_json = requests.post(f"{url}/v1/items", data=b"{", headers={"authorization": personal}, timeout=10)
        no_route = requests.get(f"{url}/v1/nothing/here", headers={"authorization": personal}, timeout=10)
        forgot = requests.post(f"{url}/v1/forgot", json={"email": "admin"}, timeout=10)
        file_anonymous = requests.get(f"{url}/files/nothing.txt", timeout=10)
        no_file = requests.get(f"{url}/files/nothing.txt", headers={"authorization": personal}, timeout=10)
        wrong_password = requests.post(f"{url}/v1/signin", json={"email": "admin", "password": "wrong"}, timeout=10)
    assert unknown.status_code == 404 and "not found" in unknown.json()["error"]
    assert wrong_method.status_code == 405 and wrong_method.headers["allowed"] == "POST" and "error" in wrong_method.json()
    assert no_token.status_code == 401 and "error" in no_token.json()
    assert bearer.status_code == 200 and [u["data"]["name"] for u in bearer.json()] == ["Studio"]
    assert not_json.status_code == 400 and not_json.json() == {"error": "The body is not JSON"}
    assert no_route.status_code == 404 and "error" in no_route.json()
    assert forgot.status_code == 200 and forgot.json()["status"] == "ok"
    assert file_anonymous.status_code == 401 and "error" in file_anonymous.json()
    assert no_file.status_code == 404 and "error" in no_file.json()
    assert wrong_password.status_code == 401 and "error" in wrong_password.json()
