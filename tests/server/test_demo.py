"""``python -m ftrack_like_api.server``: the demo studio runs end to end."""

import subprocess
import sys

from ftrack_like_api.server.demo import main


def test_the_demo_builds_tours_and_refuses_a_broken_batch(capsys, database):
    assert main(["--database", database]) == 0
    out = capsys.readouterr().out
    assert "Created the demo production: 75 operations in one batch" in out
    assert "Task(name='light', parent=Shot(name='sq010_sh010'), assignments=[Appointment(resource=User(username='kit'))])" in out
    assert "{'count_id': 6, 'sum_bid': 20.0, 'status.name': 'Approved'}" in out
    assert "Sequence(name='sq010')" in out
    assert "Task.bid takes a number: 'a lot' is not a number" in out
    assert "Shots named sq010_sh999 afterwards: 0" in out


def test_the_demo_runs_as_a_module_on_a_new_sqlite_file():
    result = subprocess.run([sys.executable, "-m", "ftrack_like_api.server"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "entity types, seeded" in result.stdout
