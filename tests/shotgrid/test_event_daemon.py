"""ShotGrid's own event daemon (``shotgunEventDaemon.py``, unchanged, only its configuration ours) against our server.

The daemon is not on any package index, so it is not installed: this test runs when
``SHOTGUN_EVENTS_SOURCE`` names a checkout of github.com/shotgunsoftware/shotgunEvents (the
folder holding ``src/shotgunEventDaemon.py``), and is skipped otherwise, saying so. By hand::

    git clone https://github.com/shotgunsoftware/shotgunEvents /tmp/shotgunEvents
    SHOTGUN_EVENTS_SOURCE=/tmp/shotgunEvents pytest tests/shotgrid/test_event_daemon.py

The daemon's ``src`` folder is copied to a temporary folder with a configuration for our
server and a plugin folder holding one plugin that writes down every event it is given. The
daemon starts from the newest event, sees the changes made while it runs, is stopped (as by
Ctrl-C), misses nothing made while it is down, and after a restart goes on from the id it kept
in its own file: each change once, in order, ids with no gap.
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import textwrap
import time

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

SOURCE = os.environ.get("SHOTGUN_EVENTS_SOURCE")

CONFIG = """[daemon]
pidFile: {folder}/daemon.pid
eventIdFile: {folder}/daemon.id
logMode: 0
logPath: {folder}
logFile: daemon.log
logging: 20
timing_log: off
conn_retry_sleep = 1
max_conn_retries = 5
fetch_interval = 1
max_event_batch_size = 500

[shotgun]
server: {url}
name: daemon
key: {key}
proxy_server:
use_session_uuid: False

[plugins]
paths: {folder}/plugins

[emails]
enabled: False
"""

PLUGIN = textwrap.dedent(
    """
    import json, os

    def registerCallbacks(reg):
        reg.registerCallback(os.environ["RECORDER_SCRIPT"], os.environ["RECORDER_KEY"], record, None, None)

    def record(sg, logger, event, args):
        entity = event.get("entity") or {}
        with open(os.environ["RECORDER_FILE"], "a") as out:
            out.write(json.dumps({"id": event["id"], "event_type": event["event_type"],
                                  "attribute_name": event.get("attribute_name"), "entity": entity.get("id"),
                                  "user": (event.get("user") or {}).get("name")}) + "\\n")
    """
)

CHANGES = textwrap.dedent(
    """
    import json, sys
    import shotgun_api3

    url, key, step = sys.argv[1:4]
    sg = shotgun_api3.Shotgun(url, script_name="daemon", api_key=key)
    project = sg.find_one("Project", [["name", "is", "Daemon"]]) or sg.create("Project", {"name": "Daemon"})
    shot = sg.create("Shot", {"code": "sh_" + step, "project": project})
    sg.update("Shot", shot["id"], {"description": "changed " + step, "sg_status_list": "ip"})
    print(json.dumps({"shot": shot["id"]}))
    """
)


def _wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


@pytest.mark.skipif(not SOURCE, reason="SHOTGUN_EVENTS_SOURCE does not name a checkout of shotgunsoftware/shotgunEvents "
                                       "(it is on no package index; see the module's docstring)")  # fmt: skip
def test_shotguns_event_daemon_sees_each_change_once_in_order_across_a_restart(shotgun_python, fresh_database, serve,
                                                                               tmp_path):  # fmt: skip
    daemon_source = pathlib.Path(SOURCE) / "src"
    assert (daemon_source / "shotgunEventDaemon.py").is_file(), f"{SOURCE} has no src/shotgunEventDaemon.py"
    with Backend.from_url(fresh_database) as backend:
        key = backend.auth.create_key("admin", "daemon")
    folder = tmp_path / "daemon"
    shutil.copytree(daemon_source, folder)
    (folder / "plugins").mkdir()
    (folder / "plugins" / "recorder.py").write_text(PLUGIN)
    seen = tmp_path / "seen.jsonl"
    environment = {**os.environ, "RECORDER_SCRIPT": "daemon", "RECORDER_KEY": key, "RECORDER_FILE": str(seen)}
    environment.pop("PYTHONPATH", None)

    def lines():
        return [json.loads(line) for line in seen.read_text().splitlines()] if seen.exists() else []

    def change(url, step):
        run = subprocess.run([shotgun_python, "-c", CHANGES, url, key, step], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        return json.loads(run.stdout.strip().splitlines()[-1])["shot"]

    def daemon():
        return subprocess.Popen([shotgun_python, str(folder / "shotgunEventDaemon.py"), "foreground"], cwd=folder,
                                env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip

    def stop(process):
        process.send_signal(signal.SIGINT)  # Ctrl-C: the daemon's own way to stop in the foreground
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    with serve(fresh_database) as url:
        (folder / "shotgunEventDaemon.conf").write_text(CONFIG.format(folder=folder, url=url, key=key))
        before = change(url, "before")  # history: the daemon starts after it
        first = daemon()
        try:
            assert _wait_for(lambda: (folder / "daemon.log").exists() and "Last event id" in (folder / "daemon.log").read_text()), \
                "the daemon did not read the newest event id"  # fmt: skip
            running = change(url, "running")
            assert _wait_for(lambda: any(e["entity"] == running and e["attribute_name"] == "sg_status_list" for e in lines()))
        finally:
            stop(first)
        assert (folder / "daemon.id").exists(), "the daemon kept no event id"
        stopped = change(url, "stopped")  # made while it is down
        second = daemon()
        try:
            assert _wait_for(lambda: any(e["entity"] == stopped and e["attribute_name"] == "sg_status_list" for e in lines()))
            time.sleep(2)  # a few more polls: nothing may come twice
        finally:
            stop(second)
    events = lines()
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)) and ids == list(range(ids[0], ids[0] + len(ids))), ids  # once each, in order, no gap
    assert before not in {e["entity"] for e in events}  # the daemon started after the history
    for shot in (running, stopped):
        mine = [(e["event_type"], e["attribute_name"]) for e in events if e["entity"] == shot]
        assert mine[0] == ("Shotgun_Shot_New", None)
        assert {("Shotgun_Shot_Change", "description"), ("Shotgun_Shot_Change", "sg_status_list")} <= set(mine)
    assert {e["user"] for e in events} == {"daemon"}  # the script that made each change
