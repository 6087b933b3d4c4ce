"""``ftrack-like demo``: a studio served over HTTP and exercised through a Session, end to end."""

import io
import subprocess

import pytest

from ftrack_like_api.demo import main


def test_the_demo_serves_builds_tours_and_refuses(capsys, database):
    assert main(["--database", database]) == 0
    out = capsys.readouterr().out
    assert "served at http://127.0.0.1:" in out
    assert "creates recorded, sent in one commit" in out
    assert "Task(name='light', parent=Shot(name='sq010_sh010'), assignments=[Appointment(resource=User(username='kit'))])" in out
    assert "more round trip(s) for all of them" in out
    assert "fps 25, description 'hero shot'" in out
    assert "a callback subscribed to ftrack.update heard: update Shot ['description'" in out
    assert "missing_reference" in out or "no Context with that id" in out
    assert "after rollback: 0 shots named sq010_sh999, 0 changes pending" in out
    # Publishing: the frames go up, come back the same through a signed link, and the thumbnail is scaled.
    assert "main: 3 frames, 12,288 bytes, uploaded to ftrack.server on sq010_sh010_comp v2, and a thumbnail" in out
    assert "read back through a signed link (the same bytes, no key in it)" in out
    assert "its thumbnail_url serves a image/png of" in out


def test_the_readme_command_runs(ftrack_like):
    result = subprocess.run([ftrack_like, "demo"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Done in" in result.stdout


def test_a_bigger_production_is_sent_in_several_commits_with_progress(tmp_path):
    from ftrack_like_api.demo import build_production
    from ftrack_like_api.session import Session

    seen = []
    with Session(server_url=f"sqlite:///{tmp_path / 'big.db'}", api_user="admin", schema_cache_path=False) as session:
        made = build_production(session, sequences=3, shots=5, commit_every=50,
                                progress=lambda done, commits: seen.append((done, commits)))  # fmt: skip
        session.commit()
        # Per shot: itself, 3 tasks, 3 assignments, an asset, 2 versions; and a project, 3 users, a custom attribute, a note.
        assert made["commits"] == 3 and made["creates"] == 3 * (1 + 5 * 10) + 6
        assert [done for done, _ in seen] == list(range(1, 16)) and seen[-1][1] == 3
        assert len(session.query("select id from Task").all()) == 45
        assert len(session.query('select id from AssetVersion where asset.name like "sq030%"').all()) == 10


def test_the_progress_bar_redraws_one_line_on_a_terminal_and_writes_one_line_elsewhere():
    from ftrack_like_api.demo import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, live in ((Terminal(), True), (io.StringIO(), False)):
        bar = ProgressBar(4, "shots", stream=stream)
        for done in range(1, 5):
            bar.update(done, f"{done} commit(s)")
        bar.close()
        text = stream.getvalue()
        assert "[##############################] 4/4 shots  4 commit(s)" in text
        assert text.count("\n") == 1 and (text.count("\r") >= 2) == live


def test_a_database_with_the_demo_in_it_already_is_a_clear_error(tmp_path, capsys):
    from ftrack_like_api.exceptions import Error

    database = f"sqlite:///{tmp_path / 'twice.db'}"
    assert main(["--database", database]) == 0
    with pytest.raises(Error, match="has a demo production already: run the demo without --database"):
        main(["--database", database])
