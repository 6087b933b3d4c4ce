"""The official ``lagoon-python-api`` client, unchanged, against ``ftrack-like serve`` at ``/lagoon/``.

Its virtual environment is its own (``conftest.py``); a script prints what it saw as JSON.
"""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402

PASSWORD = "correct horse battery"

STUDIO = textwrap.dedent(
    """
    import json, sys
    from lagoon import Lagoon
    from lagoon.exceptions import AuthentificationError

    url, password, path = sys.argv[1:4]
    said = {}
    lagoon = Lagoon(api_url=url + "/lagoon/")
    said["ping"] = lagoon.ping()
    said["status"] = lagoon.get_server_status()["status"]
    said["signin"] = lagoon.signin("admin", password).status
    token = lagoon.token
    said["me"] = lagoon.me().type
    said["mine"] = [o["name"] for o in lagoon.mine().organisations]
    organisations = lagoon.get_organisations(limit=10, offset=0)
    said["organisations"] = [[o.type, o.data.name, o.__class__.__name__] for o in organisations]
    said["containers"] = sorted(getattr(organisations[0], n).data.name for n in ("talents", "projects", "hardware", "teams"))
    said["projects"] = [[p.type, p.data.name, p.__class__.__name__] for p in organisations[0].get_projects()]
    said["past_the_end"] = len(lagoon.get_organisations(limit=10, offset=1))
    said["users"] = [u.data.name for u in lagoon.get_users()]
    made = lagoon.create_user("jo@studio.test", "Jo")
    said["made"] = [made.type, made.data.email, made.data.name]
    said["members"] = [m.data.name for m in organisations[0].get_all_members()]
    said["member"] = organisations[0].add_member(made._key).data.name
    uploaded = lagoon.upload_file(path)
    said["uploaded"] = {k: uploaded[k] for k in ("name", "originalname", "extension", "mimetype", "size")}
    said["read"] = lagoon.get_file(uploaded["path"]).decode()
    said["query"] = lagoon.query("# $User SORT item.data.name DESC VIEW item.data.name")
    lagoon.signout()
    try:
        Lagoon(api_url=url + "/lagoon/", token=token).me()
    except AuthentificationError as error:
        said["signed_out"] = str(error).split(" - url")[0]
    print(json.dumps(said, default=str))
    """
)


@pytest.fixture(scope="module")
def studio(database, tmp_path_factory):
    """The database, with a password and an API key for ``admin``."""
    with Backend.from_url(database) as backend:
        backend.auth.set_password("admin", PASSWORD)
        key = backend.auth.create_key("admin", "pipeline")
    return database, key, tmp_path_factory.mktemp("files")


def test_a_studio_through_the_official_lagoon_client(lagoon_python, studio, serve, tmp_path):
    database, key, files = studio
    path = tmp_path / "licence.txt"
    path.write_text("seat 1")
    with serve(database, "--storage", str(files)) as url:
        made = Session(server_url=url, api_user="admin", api_key=key)
        made.create("Project", {"name": "show", "full_name": "The show", "project_schema": made.query("ProjectSchema").first()})
        made.commit()
        made.close()
        run = subprocess.run([lagoon_python, "-c", STUDIO, url, PASSWORD, str(path)], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        said = json.loads(run.stdout.strip().splitlines()[-1])
        session = Session(server_url=url, api_user="admin", api_key=key)
        jo = session.query('select username, email, first_name from User where email is "jo@studio.test"').one()
        seen = (jo["username"], jo["first_name"])
        session.close()

    assert said["ping"] == "pong" and said["status"] == "ok" and said["signin"] == "ok"
    assert said["me"] == "User" and said["mine"] == ["Studio"]
    assert said["organisations"] == [["Organisation", "Studio", "Organisation"]]
    assert said["containers"] == ["Hardware", "Projects", "Talents", "Teams"]
    assert said["projects"] == [["Project", "The show", "Project"]]  # Lagoon's Projects container lists our projects
    assert said["past_the_end"] == 0
    assert said["users"] == ["Studio"]
    assert said["made"] == ["User", "jo@studio.test", "Jo"]
    assert said["members"] == ["Studio", "Jo"] and said["member"] == "Jo"
    assert said["uploaded"] == {"name": "licence.txt", "originalname": "licence.txt", "extension": ".txt", "mimetype": "text/plain",
                                "size": 6}  # fmt: skip
    assert said["read"] == "seat 1"
    assert said["query"] == ["Studio", "Jo"]
    assert said["signed_out"]
    assert seen == ("jo@studio.test", "Jo")
