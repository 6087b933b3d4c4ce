"""Each request's id: taken from the proxy or made, answered in ``X-Request-Id``, in the request's log lines (text
or JSON)."""

import json
import os
import re
import subprocess
import time

import pytest
import requests

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402


def test_a_proxys_id_is_kept_a_missing_or_strange_one_is_made(server):
    assert requests.get(f"{server}/health", headers={"X-Request-Id": "edge-7f3a:42"}, timeout=10).headers[
        "x-request-id"] == "edge-7f3a:42"  # fmt: skip
    made = requests.get(f"{server}/health", timeout=10).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    for strange in ["a" * 200, "bad id", "x\\ny", "<script>"]:
        answered = requests.get(f"{server}/health", headers={"X-Request-Id": strange}, timeout=10).headers["x-request-id"]
        assert answered != strange and re.fullmatch(r"[0-9a-f]{32}", answered)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_requests_log_lines_carry_its_id(log_format, tmp_path, ftrack_like, unused_port):
    database = f"sqlite:///{tmp_path}/studio.db"
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "ids")
    server = subprocess.Popen([ftrack_like, "serve", "--port", str(unused_port), "--database", database, "--log-level",
                               "info", "--log-format", log_format], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    url = f"http://127.0.0.1:{unused_port}"
    try:
        for _ in range(600):
            try:
                if requests.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None
            time.sleep(0.05)
        answer = requests.post(f"{url}/api", json=[{"action": "query", "expression": "select id from Status"}],
                               headers={"ftrack-user": "admin", "ftrack-api-key": key, "X-Request-Id": "trace-4242"},
                               timeout=30)  # fmt: skip
        assert answer.status_code == 200 and answer.headers["x-request-id"] == "trace-4242"
    finally:
        server.terminate()
        _, said = server.communicate(timeout=30)
    lines = [line for line in said.splitlines() if line.strip()]
    if log_format == "json":
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        mine = [e for e in entries if e["request_id"] == "trace-4242"]
        assert mine and all(e["level"] and e["logger"] and e["time"] for e in entries)
        assert any("query" in e["message"] for e in mine), mine
    else:
        mine = [line for line in lines if " trace-4242 " in line]
        assert mine and any("query" in line for line in mine), said
