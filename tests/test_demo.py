"""``ftrack-like demo``: a studio served over HTTP and exercised through a Session, end to end."""

import subprocess

from ftrack_like_api.demo import main


def test_the_demo_serves_builds_tours_and_refuses(capsys, database):
    assert main(["--database", database]) == 0
    out = capsys.readouterr().out
    assert "served at http://127.0.0.1:" in out
    assert "creates recorded, sent in one commit" in out
    assert "Task(name='light', parent=Shot(name='sq010_sh010'), assignments=[Appointment(resource=User(username='kit'))])" in out
    assert "more round trip(s) for all of them" in out
    assert "fps 25, description 'hero shot'" in out
    assert "missing_reference" in out or "no Context with that id" in out
    assert "after rollback: 0 shots named sq010_sh999, 0 changes pending" in out


def test_the_readme_command_runs(ftrack_like):
    result = subprocess.run([ftrack_like, "demo"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Done in" in result.stdout
