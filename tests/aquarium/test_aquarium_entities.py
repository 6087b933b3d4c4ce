"""Versions, media, comments, jobs and dependencies through the official ``aquarium-python-api`` client, unchanged,
are entities of ours (AssetVersion, FileComponent, Note, Timelog, TypedContextLink): ftrack's API reads them as
what they are, and what ftrack's API makes the client reads back. Also the routes beyond items and edges:
``download_file``, ``get_history``, ``copy``, ``get(populate=True)``, and the refusals that name a route and why.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.symbol import SERVER_LOCATION_ID  # noqa: E402

PASSWORD = "correct horse battery"

MAKE = textwrap.dedent(
    """
    import json, os, sys
    from aquarium import Aquarium
    from aquarium.utils import Utils

    url, password, first, second, out = sys.argv[1:6]
    said = {}
    aq = Aquarium(api_url=url + "/")
    aq.signin("admin", password)
    me = aq.me()
    project = aq.item.create(type="Project", data={"name": "Entities"})
    sequence = project.append(type="Sequence", data={"name": "sq010"}).item
    shots = [sequence.append(type="Shot", data={"name": name}).item for name in ("sh010", "sh020")]
    comp = shots[0].append(type="Task", data={"name": "comp"}).item
    asset = project.append(type="Asset", data={"name": "chair"}).item

    uploaded = aq.shot(shots[0]._key).upload_on_task(task_name="comp", path=first, version_name="v003")
    again = aq.shot(shots[0]._key).upload_on_task(task_name="comp", path=second, version_name="v003")
    version = comp.get_children(types="Version")[0].item
    said["versions"] = [[v.item.type, v.item.data.name] for v in comp.get_children(types="Version")]
    said["medias"] = [[m.item.type, m.item.data.name, m.item._key] for m in version.get_children(types="Media")]
    said["same_media"] = uploaded.item._key == again._key  # a second upload of that file replaces the Media's file
    said["bytes"] = aq.get_file(again.data["path"]).decode()
    aq.item(again._key).download_file(out)
    said["downloaded"] = open(out).read()
    said["keys"] = {"project": project._key, "comp": comp._key, "version": version._key, "media": again._key,
                    "shots": [s._key for s in shots], "asset": asset._key}

    note = comp.append(type="Comment", data={"message": "more grain", "mood": "calm"}).item
    reply = note.append(type="Comment", data={"message": "done"}).item
    on_version = version.append(type="Comment", data={"message": "approved"}).item
    said["comments"] = comp.traverse("# -($Child)> $Comment VIEW item.data.message")
    said["replies"] = note.traverse("# -($Child)> $Comment VIEW item.data.message")
    said["comment_kept"] = aq.item(note._key).get().data.mood
    said["keys"].update(note=note._key, reply=reply._key, on_version=on_version._key)

    job = aq.task(comp._key).add_timelog(me._key, comment="comp work", date="2026-03-02T09:30:00.000Z",
                                         duration=Utils.duration(hours=1, minutes=30)).item
    said["job"] = [job.type, job.data.duration, job.data.comment, job.data.performedBy == me._key]
    said["keys"]["job"] = job._key

    link = aq.edge.create("Dependency", shots[0]._key, shots[1]._key, {"why": "layout"})
    breakdown = aq.edge.create("Breakdown", asset._key, shots[0]._key)
    said["dependencies"] = [d.item.data.name for d in aq.task(shots[1]._key).get_dependencies()]
    said["breakdown"] = shots[0].traverse("# <($Breakdown)- * VIEW item.data.name")
    said["keys"].update(link=link._key, breakdown=breakdown._key)

    aq.item(shots[1]._key).update_data({"cut": {"in": 1001}})
    aq.item(shots[1]._key).update_data({"name": "sh030"})
    said["history"] = [[h.data.toDict(), h.updatedBy == me._key] for h in aq.item(shots[1]._key).get_history()]
    populated = aq.item(shots[1]._key).get(populate=True)
    said["populated"] = populated.createdBy["type"]

    elsewhere = project.append(type="Sequence", data={"name": "sq020"}).item
    kept = sequence.append(type="Playlist", data={"name": "dailies"}).item
    moved = aq.item(shots[1]._key).move(sequence._key, elsewhere._key)
    moved_kept = aq.item(kept._key).move(sequence._key, elsewhere._key)
    said["moved"] = [moved.item.data.name, moved.edge._from == "items/" + elsewhere._key,
                     moved_kept.edge._from == "items/" + elsewhere._key,
                     [c.item.data.name for c in elsewhere.get_children()]]
    try:
        aq.item(version._key).move(comp._key, shots[1]._key)
    except Exception as error:
        said["version_moved"] = error.__class__.__name__
    extra = elsewhere.append(type="Shot", data={"name": "sh040"}).item
    extra.trash()
    said["trash"] = [[t.item.data.name, t.edge.type] for t in elsewhere.get_trash()]
    extra.restore()
    said["trash_after"] = len(elsewhere.get_trash())
    copies = aq.item(shots[0]._key).copy(sequence._key)
    said["copies"] = [[c.type, c.data.get("name")] for c in copies]
    said["keys"]["copy"] = copies[0]._key

    for call in (lambda: aq.item(comp._key).get_permissions(), lambda: aq.item(comp._key).apply_template("x"),
                 lambda: aq.item(comp._key).export_json()):
        try:
            call()
        except RuntimeError as error:
            said.setdefault("refused", []).append(str(error))
    print(json.dumps(said, default=str))
    """
)

READ = textwrap.dedent(
    """
    import json, sys
    from aquarium import Aquarium

    url, password, task, shot, other, out = sys.argv[1:7]
    aq = Aquarium(api_url=url + "/")
    aq.signin("admin", password)
    said = {}
    versions = aq.item(task).get_children(types="Version")
    said["versions"] = [v.item.data.name for v in versions]
    medias = versions[0].item.get_children(types="Media")
    said["medias"] = [m.item.data.name for m in medias]
    aq.item(medias[0].item._key).download_file(out)
    said["downloaded"] = open(out).read()
    said["comments"] = aq.item(task).traverse("# -($Child)> $Comment VIEW item.data.message")
    view = {"comment": "item.data.comment", "duration": "item.data.duration", "by": "item.data.performedBy",
            "at": "item.data.performedAt"}
    said["jobs"] = aq.item(task).traverse("# -($Child)> $Job VIEW $view", aliases={"view": view})
    said["dependencies"] = [d.item._key for d in aq.task(other).get_dependencies(mode="IN")]
    print(json.dumps(said))
    """
)


@pytest.fixture(scope="module")
def studio(database, tmp_path_factory):
    with Backend.from_url(database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        key = backend.auth.create_key("admin", "pipeline")
    return database, key, tmp_path_factory.mktemp("files")


def _run(python, script, *arguments):
    run = subprocess.run([python, "-c", script, *arguments], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_what_aquarium_makes_is_what_ftrack_reads_and_back(aquarium_python, studio, serve, tmp_path):
    database, key, files = studio
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "sh010_comp.txt", tmp_path / "b" / "sh010_comp.txt"
    first.write_text("take one")
    second.write_text("take two")
    with serve(database, "--storage", str(files)) as url:
        said = _run(aquarium_python, MAKE, url, PASSWORD, str(first), str(second), str(tmp_path / "out.txt"))
        keys = said["keys"]
        session = Session(server_url=url, api_user="admin", api_key=key)
        version = session.get("AssetVersion", keys["version"])
        seen_version = [version["version"], version["asset"]["name"], version["asset"]["parent"]["name"], version["task"]["name"],
                        [(c["name"], c["file_type"], c.entity_type) for c in version["components"]]]  # fmt: skip
        media = session.get("FileComponent", keys["media"])
        server = session.get("Location", SERVER_LOCATION_ID)
        availability = session.get_component_availability(media)[SERVER_LOCATION_ID]
        notes = session.query(f'select content, author.username, parent_id, in_reply_to_id from Note where parent_id in '
                              f'("{keys["comp"]}", "{keys["version"]}")').all()  # fmt: skip
        seen_notes = sorted((n["content"], n["author"]["username"], n["parent_id"], n["in_reply_to_id"]) for n in notes)
        timelog = session.get("Timelog", keys["job"])
        seen_timelog = [timelog["duration"], timelog["comment"], timelog["user"]["username"], timelog["context_id"],
                        timelog["start"].strftime("%Y-%m-%d %H:%M")]  # fmt: skip
        shot_ids = ", ".join(f'"{k}"' for k in keys["shots"])
        links = session.query(f"select from_id, to_id from TypedContextLink where to_id in ({shot_ids})").all()
        seen_links = sorted((link["from_id"], link["to_id"]) for link in links)
        moved_parent = session.get("Shot", keys["shots"][1])["parent"]["name"]
        copied = session.query(f'select name, parent.name from Shot where id is "{keys["copy"]}"').one()
        copied_tasks = [t["name"] for t in session.query(f'select name from Task where parent_id is "{keys["copy"]}"').all()]

        # Then ftrack's API makes a version with a file, a note, a timelog and a link: Aquarium's client reads them.
        shot = session.get("Shot", keys["shots"][1])
        anim = session.create("Task", {"name": "anim", "parent": shot})
        asset = session.create("Asset", {"name": "anim", "parent": shot})
        made = session.create("AssetVersion", {"asset": asset, "task": anim, "version": 7})
        source = tmp_path / "render.txt"
        source.write_text("from ftrack")
        session.create_component(str(source), {"version": made, "name": "render"}, location=server)
        session.create("Note", {"content": "ftrack says hi", "parent_id": anim["id"], "parent_type": "Task",
                                "author": session.query('User where username is "admin"').one()})  # fmt: skip
        session_user_id = session.query('User where username is "admin"').one()["id"]
        session.create("Timelog", {"context_id": anim["id"], "duration": 600, "comment": "ftrack minutes", "user_id": session_user_id})
        session.create("TypedContextLink", {"from_id": keys["asset"], "to_id": anim["id"]})
        session.commit()
        read = _run(aquarium_python, READ, url, PASSWORD, anim["id"], keys["shots"][1], anim["id"], str(tmp_path / "back.txt"))
        session.close()

    assert said["versions"] == [["Version", "v003"]]
    assert said["medias"] == [["Media", "sh010_comp.txt", keys["media"]]] and said["same_media"] is True
    assert said["bytes"] == "take two" and said["downloaded"] == "take two"
    assert seen_version == [3, "comp", "sh010", "comp", [("sh010_comp", ".txt", "FileComponent")]]
    assert availability == 100.0
    assert sorted(said["comments"]) == ["more grain"] and said["replies"] == ["done"] and said["comment_kept"] == "calm"
    assert seen_notes == [("approved", "admin", keys["version"], None), ("done", "admin", keys["comp"], keys["note"]),
                          ("more grain", "admin", keys["comp"], None)]  # fmt: skip
    assert said["job"] == ["Job", "PT1H30M", "comp work", True]
    assert seen_timelog == [5400, "comp work", "admin", keys["comp"], "2026-03-02 09:30"]
    assert said["dependencies"] == ["sh010"] and said["breakdown"] == ["chair"]
    assert seen_links == sorted([(keys["shots"][0], keys["shots"][1]), (keys["asset"], keys["shots"][0])])
    assert said["history"][-2:] == [[{"cut": {"in": 1001}}, True], [{"name": "sh030"}, True]]
    assert said["populated"] == "User"
    assert said["moved"] == ["sh030", True, True, ["dailies", "sh030"]] and said["version_moved"] == "ConflictError"
    assert moved_parent == "sq020"
    assert said["trash"] == [["sh040", "Child"]] and said["trash_after"] == 0
    assert said["copies"][:2] == [["Shot", "sh010"], ["Task", "comp"]] and ["Version", "v003"] in said["copies"]
    assert (copied["name"], copied["parent"]["name"], copied_tasks) == ("sh010", "sq010", ["comp"])
    assert len(said["refused"]) == 3 and all("code 501" in r and "is not served" in r for r in said["refused"])
    assert "permissions" in said["refused"][0] and "template" in said["refused"][1] and "export" in said["refused"][2]

    assert read["versions"] == ["v007"] and read["medias"] == ["render.txt"] and read["downloaded"] == "from ftrack"
    assert read["comments"] == ["ftrack says hi"]
    admin_id = session_user_id
    assert read["jobs"] == [{"comment": "ftrack minutes", "duration": "PT600S", "by": admin_id, "at": read["jobs"][0]["at"]}]
    assert read["jobs"][0]["at"].endswith("Z") and read["jobs"][0]["at"][:4].isdigit()
    assert read["dependencies"] == [keys["asset"]]


FORGOTTEN = textwrap.dedent(
    """
    import json, sys
    from aquarium import Aquarium
    from aquarium.exceptions import PathNotFoundError

    url, password, step = sys.argv[1:4]
    aq = Aquarium(api_url=url + "/")
    aq.signin("admin", password)
    said = {}
    if step == "make":
        project = aq.item.create(type="Project", data={"name": "Forgotten"})
        shot = project.append(type="Shot", data={"name": "sh010", "cut": {"in": 1001}}, edge_data={"order": 1}).item
        other = project.append(type="Shot", data={"name": "sh020"}).item
        props = aq.item.create(type="Properties", data={"name": "props"})
        said = {"shot": shot._key, "other": other._key, "trash": shot.trash().edge._key,
                "kept": aq.edge.create("Uses", shot._key, props._key)._key,
                "link": aq.edge.create("Dependency", other._key, shot._key, {"why": "cut"})._key}
    else:
        keys = json.loads(step)
        for name, call in (("shot", lambda: aq.item(keys["shot"]).get()), ("trash", lambda: aq.edge(keys["trash"]).get()),
                           ("kept", lambda: aq.edge(keys["kept"]).get()), ("link", lambda: aq.edge(keys["link"]).get())):
            try:
                call()
                said[name] = "found"
            except PathNotFoundError:
                said[name] = "not found"
        said["dependencies"] = len(aq.task(keys["other"]).get_dependencies())
    print(json.dumps(said))
    """
)


def test_what_aquarium_kept_goes_with_an_entity_deleted_through_ftrack(aquarium_python, studio, serve):
    database, key, files = studio
    with serve(database, "--storage", str(files)) as url:
        made = _run(aquarium_python, FORGOTTEN, url, PASSWORD, "make")
        with Backend.from_url(database) as backend:
            items, edges = backend.storage.aquarium["aquarium_item"], backend.storage.aquarium["aquarium_edge"]
            with backend.engine.connect() as connection:
                ends = (edges.c.from_key == made["shot"]) | (edges.c.to_key == made["shot"])
                before = len(connection.execute(edges.select().where(ends)).all())
        session = Session(server_url=url, api_user="admin", api_key=key)
        session.delete(session.get("Shot", made["shot"]))
        session.commit()
        session.close()
        after = _run(aquarium_python, FORGOTTEN, url, PASSWORD, json.dumps(made))
        with Backend.from_url(database) as backend:
            with backend.engine.connect() as connection:
                left = connection.execute(items.select().where(items.c.key == made["shot"])).all()
                touching = connection.execute(edges.select().where((edges.c.from_key == made["shot"]) | (edges.c.to_key == made["shot"])
                                                                   | (edges.c.key == "parent-" + made["shot"]))).all()  # fmt: skip
    assert before == 4  # the Child edge's data, the Trash edge, a kept Uses edge, the Dependency's type
    assert left == [] and touching == []
    assert after == {"shot": "not found", "trash": "not found", "kept": "not found", "link": "not found", "dependencies": 0}
