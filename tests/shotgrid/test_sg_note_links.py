"""``Note.note_links``: a ShotGrid note on a Version or Shot kept as ftrack keeps a note, on one parent.

The first (only) entity linked is our note's parent, so our Session sees the note in that entity's
``notes``; a note made by our Session on a version reads back through ``shotgun_api3`` with it in its
``note_links``. Filters ``is`` / ``in`` / ``type_is`` find notes by it; a second link is refused by name.
Through ``shotgun_api3``, unchanged, against ``ftrack-like serve`` on SQLite and PostgreSQL.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

MAKE = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=key)
    said = {}
    project = sg.create("Project", {"name": "Linked notes"})
    shot = sg.create("Shot", {"project": project, "code": "sh010"})
    version = sg.create("Version", {"project": project, "code": "sh010_comp_v001", "entity": shot})
    fields = ["subject", "content", "note_links", "project"]
    said["project"], said["shot"], said["version"] = project, shot, version
    said["on_version"] = sg.create("Note", {"project": project, "note_links": [version], "subject": "edge",
                                            "content": "fix the edge"}, fields)
    said["on_shot"] = sg.create("Note", {"project": project, "note_links": [shot], "subject": "grain",
                                         "content": "and the grain"}, fields)
    said["on_project"] = sg.create("Note", {"project": project, "subject": "all", "content": "for everyone"}, fields)
    try:
        sg.create("Note", {"project": project, "note_links": [version, shot], "content": "twice"})
    except shotgun_api3.Fault as error:
        said["two"] = str(error)
    def found(filters):
        return sorted(n["content"] for n in sg.find("Note", filters, ["content"]))
    said["in_version"] = found([["note_links", "in", [version]]])
    said["is_shot"] = found([["note_links", "is", shot]])
    said["in_both"] = found([["note_links", "in", [version, shot]]])
    said["type_version"] = found([["note_links", "type_is", "Version"]])
    said["none"] = found([["note_links", "is", None]])
    said["not_version"] = found([["note_links", "is_not", version], ["project", "is", project]])
    moved = said["on_project"]["id"]
    def update(links, mode):
        try:
            return sg.update("Note", moved, {"note_links": links}, multi_entity_update_modes={"note_links": mode})["note_links"]
        except shotgun_api3.Fault as error:
            return str(error)
    said["added"] = update([version], "add")
    said["added_again"] = update([version], "add")
    said["added_other"] = update([shot], "add")
    said["removed_other"] = update([shot], "remove")
    said["removed"] = update([version], "remove")
    said["set"] = update([shot], "set")
    said["set_none"] = update([], "set")
    said["moved_project"] = sg.find_one("Note", [["id", "is", moved]], ["project"])["project"]
    print(json.dumps(said))
    """
)

READ = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key = sys.argv[1:3]
    sg = shotgun_api3.Shotgun(url, script_name="suite", api_key=key)
    print(json.dumps(sg.find("Note", [["content", "is", "from ftrack"]], ["content", "note_links"])))
    """
)


@pytest.fixture(scope="module")
def studio(database):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "suite")
    return database, key


def _run(python, script, *arguments):
    run = subprocess.run([python, "-c", script, *arguments], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_note_links_one_entity_its_parent_both_ways(shotgun_python, studio, serve):
    database, key = studio
    with serve(database) as url:
        said = _run(shotgun_python, MAKE, url, key)
        with Session(server_url=url, api_user="admin", api_key=key, schema_cache_path=False) as session:
            version = session.query("select notes.content from AssetVersion where metadata any "
                                    "(key is 'code' and value is 'sh010_comp_v001')").one()  # fmt: skip
            shot = session.query("select notes.content from Shot where name is 'sh010'").one()
            ours = sorted(n["content"] for n in version["notes"]), sorted(n["content"] for n in shot["notes"])
            session.create("Note", {"content": "from ftrack", "parent_id": version["id"], "parent_type": "AssetVersion"})
            session.commit()
        made_by_us = _run(shotgun_python, READ, url, key)
    version_link = {"type": "Version", "id": said["version"]["id"], "name": "sh010_comp_v001"}
    shot_link = {"type": "Shot", "id": said["shot"]["id"], "name": "sh010"}
    assert said["on_version"]["note_links"] == [version_link]
    assert said["on_shot"]["note_links"] == [shot_link]
    assert said["on_version"]["project"] == said["on_shot"]["project"] == {"type": "Project", "id": said["project"]["id"],
                                                                           "name": "Linked notes"}  # through the parent
    assert said["on_project"]["note_links"] == [] and said["on_project"]["project"]["id"] == said["project"]["id"]
    assert "Note.note_links holds one entity here" in said["two"]
    assert ours == (["fix the edge"], ["and the grain"])  # our Session sees each note on the entity it links
    assert said["in_version"] == ["fix the edge"] and said["is_shot"] == ["and the grain"]
    assert said["in_both"] == ["and the grain", "fix the edge"] and said["type_version"] == ["fix the edge"]
    assert said["none"] == ["for everyone"] and said["not_version"] == ["and the grain", "for everyone"]
    version_only = [version_link]
    assert said["added"] == version_only and said["added_again"] == version_only and said["removed_other"] == version_only
    assert "Note.note_links links one entity here" in said["added_other"]
    assert said["removed"] == [] and said["set"] == [shot_link] and said["set_none"] == []
    assert said["moved_project"]["id"] == said["project"]["id"]  # back on its project
    assert made_by_us == [{"type": "Note", "id": made_by_us[0]["id"], "content": "from ftrack", "note_links": [version_link]}]
