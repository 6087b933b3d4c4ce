"""``ftrack_like_api.testing.serve()``: a real studio for a test, in one line — instead of mockgun."""

import json
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.testing import serve  # noqa: E402

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, script, key = sys.argv[1:4]
    sg = shotgun_api3.Shotgun(url, script_name=script, api_key=key)
    project = sg.create("Project", {"name": "From a test"})
    shot = sg.create("Shot", {"code": "sh010", "project": project})
    print(json.dumps({"found": sg.find_one("Shot", [["code", "is", "sh010"]], ["code"])}))
    """
)


def test_a_test_gets_a_real_studio_and_both_apis_reach_it(shotgun_python, tmp_path):
    with serve() as studio:
        assert studio.url.startswith("http://127.0.0.1:") and studio.script_name == "tests"
        run = subprocess.run([shotgun_python, "-c", SCRIPT, studio.url, studio.script_name, studio.api_key],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        assert json.loads(run.stdout.strip().splitlines()[-1])["found"]["code"] == "sh010"
        with Session(server_url=studio.url, api_user=studio.user, api_key=studio.api_key, schema_cache_path=False) as session:
            assert session.query('Shot where name is "sh010"').one()["name"] == "sh010"  # the same shot, ours
        folder = studio.storage.parent
    assert not folder.exists()  # nothing left behind
    with serve(tmp_path / "kept") as kept:  # or in a folder of the test's
        assert kept.database == f"sqlite:///{tmp_path / 'kept' / 'studio.db'}"
    assert (tmp_path / "kept" / "studio.db").is_file()
