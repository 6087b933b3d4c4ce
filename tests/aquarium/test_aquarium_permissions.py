"""Project permissions hold through Aquarium's calls: a user restricted to one project sees and changes only it."""

from ftrack_like_api.server import Backend
from ftrack_like_api.server.protocols.aquarium.calls import Calls
from ftrack_like_api.server.protocols.aquarium.mapping import load_mapping


def _call(backend, user, call, write=False, **params):
    return backend.execute([{"action": "aquarium_write" if write else "aquarium_read", "call": call, "params": params}], user)


def test_a_user_of_one_project_sees_and_changes_only_it(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())
        made = {}
        for name in ("open", "secret"):
            project = _call(backend, "admin", "create", write=True, type="Project", data={"name": name})[0]
            shot = _call(backend, "admin", "append", write=True, key=project["_key"], item={"type": "Shot", "data": {"name": name + "_sh"}},
                         edge={"type": "Child"})[0]  # fmt: skip
            made[name], made[name + "_shot"] = project["_key"], shot["item"]["_key"]
        assert isinstance(_call(backend, "admin", "create_user", write=True, email="jo@studio.test", name="Jo"), list)
        backend.auth.grant("jo@studio.test", made["open"])
        jo = "jo@studio.test"

        projects = _call(backend, jo, "query", query="# $Project", aliases={})[0]
        shots = _call(backend, jo, "query", query="# $Shot", aliases={})[0]
        hidden = _call(backend, jo, "get", key=made["secret_shot"])
        refused = _call(backend, jo, "append", write=True, key=made["open"], item={"type": "Shot", "data": {"name": "x"}},
                        edge={"type": "Child"})  # fmt: skip
        moved = _call(backend, jo, "connect", write=True, type="Child", **{"from": made["secret"], "to": made["open_shot"]})
        renamed = _call(backend, jo, "update", write=True, key=made["open_shot"], data={"name": "renamed"})

    assert [p["data"]["name"] for p in projects] == ["open"]
    assert [s["data"]["name"] for s in shots] == ["open_sh"]
    assert isinstance(hidden, dict) and "not found" in hidden["content"]
    assert isinstance(refused, list)  # a user of the project (no role: every right in it) adds to it
    assert isinstance(moved, dict) and "not found" in moved["content"]  # the other project is not theirs to see
    assert renamed[0]["data"]["name"] == "renamed"


def test_a_read_only_user_writes_nothing(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())
        project = _call(backend, "admin", "create", write=True, type="Project", data={"name": "open"})[0]
        _call(backend, "admin", "create_user", write=True, email="ro@studio.test", name="Ro")
        backend.auth.grant("ro@studio.test", project["_key"], role="read-only")
        seen = _call(backend, "ro@studio.test", "get", key=project["_key"])
        refused = _call(backend, "ro@studio.test", "update", write=True, key=project["_key"], data={"name": "mine"})
        kept_refused = _call(backend, "ro@studio.test", "update", write=True, key=project["_key"], data={"fps": 25})
        after = _call(backend, "admin", "get", key=project["_key"])[0]
    assert isinstance(seen, list) and seen[0]["data"]["name"] == "open"
    assert isinstance(refused, dict) and refused["exception"] == "PermissionError", refused
    assert isinstance(kept_refused, dict) and kept_refused["exception"] == "PermissionError", kept_refused
    assert after["data"] == {"name": "open"}


def test_what_another_api_changes_is_what_aquarium_reads(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())
        project = _call(backend, "admin", "create", write=True, type="Project", data={"name": "p", "fps": 24})[0]
        item = {"type": "Shot", "data": {"name": "sh010", "cut": 12}}
        shot = _call(backend, "admin", "append", write=True, key=project["_key"], item=item, edge={"type": "Child"})[0]["item"]
        renamed = backend.execute([{"action": "update", "entity_type": "Shot", "entity_key": [shot["_key"]],
                                    "entity_data": {"name": "sh020", "description": "from ftrack"}}], "admin")  # fmt: skip
        assert isinstance(renamed, list), renamed
        seen = _call(backend, "admin", "get", key=shot["_key"])[0]
        found = _call(backend, "admin", "query", query="# $Shot AND item.data.description == 'from ftrack'", aliases={})[0]
        gone = backend.execute([{"action": "delete", "entity_type": "Shot", "entity_key": [shot["_key"]]}], "admin")
        assert isinstance(gone, list), gone
        after = _call(backend, "admin", "query", query="# $Shot", aliases={})[0]
    assert seen["data"] == {"name": "sh020", "description": "from ftrack", "cut": 12}
    assert [s["_key"] for s in found] == [shot["_key"]]
    assert after == []


def test_versions_media_comments_jobs_and_links_keep_to_their_project(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())
        made = {}

        def append(parent, type_name, **data):
            return _call(backend, "admin", "append", write=True, key=parent, item={"type": type_name, "data": data},
                         edge={"type": "Child"})[0]["item"]["_key"]  # fmt: skip

        for name in ("open", "secret"):
            project = _call(backend, "admin", "create", write=True, type="Project", data={"name": name})[0]["_key"]
            shots = [append(project, "Shot", name=f"{name}_{n}") for n in (1, 2)]
            task = append(shots[0], "Task", name="comp")
            version = append(task, "Version", name="v001")
            made[name] = {"version": version, "media": append(version, "Media", name=f"{name}.exr"),
                          "comment": append(task, "Comment", message=f"{name} note"),
                          "job": append(task, "Job", comment=f"{name} work", duration="PT1H"),
                          "link": _call(backend, "admin", "connect", write=True, type="Dependency",
                                        **{"from": shots[0], "to": shots[1]})[0]["_key"]}  # fmt: skip
        _call(backend, "admin", "create_user", write=True, email="jo@studio.test", name="Jo")
        open_project = _call(backend, "admin", "query", query="# $Project AND item.data.name == 'open'")[0][0]["_key"]
        backend.auth.grant("jo@studio.test", open_project)
        jo = "jo@studio.test"
        seen = {t: [i["_key"] for i in _call(backend, jo, "query", query=f"# ${t}")[0]] for t in ("Version", "Media", "Comment", "Job")}
        links = _call(backend, jo, "query", query="# $Shot -($Dependency)> * VIEW edge._key")[0]
        hidden = {what: _call(backend, jo, "get", key=key) for what, key in made["secret"].items() if what != "link"}
        hidden_link = _call(backend, jo, "get_edge", key=made["secret"]["link"])
        history = _call(backend, jo, "history", key=made["secret"]["version"])
        upload = _call(backend, jo, "upload_target", key=made["secret"]["media"])

    assert seen == {"Version": [made["open"]["version"]], "Media": [made["open"]["media"]], "Comment": [made["open"]["comment"]],
                    "Job": [made["open"]["job"]]}  # fmt: skip
    assert links == [made["open"]["link"]]
    assert all(isinstance(h, dict) and "not found" in h["content"] for h in hidden.values()), hidden
    assert isinstance(hidden_link, dict) and "not found" in hidden_link["content"]
    assert isinstance(history, dict) and isinstance(upload, dict)


def test_a_read_only_user_may_not_write_a_media_s_file(fresh_database):
    """The upload on a Media (its component's file) is refused before a byte is kept."""
    with Backend.from_url(fresh_database) as backend:
        Calls(backend, load_mapping())
        project = _call(backend, "admin", "create", write=True, type="Project", data={"name": "open"})[0]["_key"]
        task = project
        for type_name, name in (("Shot", "sh010"), ("Task", "comp"), ("Version", "v001"), ("Media", "plate.exr")):
            task = _call(backend, "admin", "append", write=True, key=task, item={"type": type_name, "data": {"name": name}},
                         edge={"type": "Child"})[0]["item"]["_key"]  # fmt: skip
        _call(backend, "admin", "create_user", write=True, email="ro@studio.test", name="Ro")
        backend.auth.grant("ro@studio.test", project, role="read-only")
        mine = _call(backend, "admin", "upload_target", key=task)
        refused = _call(backend, "ro@studio.test", "upload_target", key=task)
    assert mine == [task]  # the Media's own component takes the file
    assert isinstance(refused, dict) and refused["exception"] == "PermissionError", refused
