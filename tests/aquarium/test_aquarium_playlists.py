"""A ``Playlist`` through the official ``aquarium-python-api`` client, unchanged, is a list of versions of ours
(AssetVersionList) whose ``Playlist`` edges are its items (ListObjects): ftrack's API sees the list with its versions,
and the client reads back a list made through our Session (SQLite and PostgreSQL)."""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

PASSWORD = "correct horse battery"

MAKE = textwrap.dedent(
    """
    import json, sys
    from aquarium import Aquarium

    url, password, path = sys.argv[1:4]
    aq = Aquarium(api_url=url + "/")
    aq.signin("admin", password)
    project = aq.item.create(type="Project", data={"name": "Dailies"})
    shot = project.append(type="Shot", data={"name": "sh010"}).item
    for name in ("comp", "light"):
        shot.append(type="Task", data={"name": name})
    aq.shot(shot._key).upload_on_task(task_name="comp", path=path, version_name="v001")
    aq.shot(shot._key).upload_on_task(task_name="light", path=path, version_name="v002")
    versions = aq.item(shot._key).traverse("# -($Child, 2)> $Version SORT item.data.name VIEW item._key")
    playlist = project.append(type="Playlist", data={"name": "review", "colour": "blue"}).item
    for key in versions:
        aq.edge.create("Playlist", playlist._key, key, {"track": 0})
    said = {"project": project._key, "playlist": playlist._key, "versions": versions}
    said["read"] = playlist.traverse("# -($Playlist)> $Version SORT item.data.name VIEW item.data.name")
    said["type"] = aq.item(playlist._key).get().type
    said["kept"] = aq.item(playlist._key).get().data.colour
    edge = playlist.traverse('# -($Playlist)> $Version AND item._key == "' + versions[0] + '" VIEW edge')[0]
    aq.cast(edge).delete()
    said["after"] = playlist.traverse("# -($Playlist)> $Version VIEW item.data.name")
    print(json.dumps(said))
    """
)

READ = textwrap.dedent(
    """
    import json, sys
    from aquarium import Aquarium

    url, password, project, playlist = sys.argv[1:5]
    aq = Aquarium(api_url=url + "/")
    aq.signin("admin", password)
    said = {"lists": aq.item(project).traverse("# -($Child)> $Playlist SORT item.data.name VIEW item.data.name")}
    said["versions"] = aq.item(playlist).traverse("# -($Playlist)> $Version SORT item.data.name VIEW item.data.name")
    print(json.dumps(said))
    """
)


def _run(python, script, *arguments):
    run = subprocess.run([python, "-c", script, *arguments], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_playlist_is_a_list_of_versions_both_ways(aquarium_python, database, serve, tmp_path):
    with Backend.from_url(database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        key = backend.auth.create_key("admin", "pipeline")
    media = tmp_path / "sh010.txt"
    media.write_text("frame")
    files = tmp_path / "files"
    files.mkdir()
    with serve(database, "--storage", str(files)) as url:
        made = _run(aquarium_python, MAKE, url, PASSWORD, str(media))
        session = Session(server_url=url, api_user="admin", api_key=key)
        playlist = session.get("AssetVersionList", made["playlist"])
        seen = [playlist.entity_type, playlist["name"], playlist["project_id"], [v["id"] for v in playlist["items"]]]
        # ftrack's API makes a list of both versions: the client reads it back.
        category = session.query("ListCategory").first()
        versions = [session.get("AssetVersion", k) for k in made["versions"]]
        made_here = session.create("AssetVersionList", {"name": "client", "project_id": made["project"], "category": category})
        for version in versions:
            session.create("ListObject", {"list_id": made_here["id"], "entity_id": version["id"]})
        session.commit()
        read = _run(aquarium_python, READ, url, PASSWORD, made["project"], made_here["id"])
        session.close()
    assert made["read"] == ["v001", "v002"] and made["type"] == "Playlist" and made["kept"] == "blue"
    assert made["after"] == ["v002"]
    assert seen == ["AssetVersionList", "review", made["project"], [made["versions"][1]]]
    assert read == {"lists": ["client", "review"], "versions": ["v001", "v002"]}
