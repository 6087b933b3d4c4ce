"""``/events``: the log streamed from a seq, matched on the server, publishing, cursors and parked events,
over a real served server, on each database."""

import json
import threading
import time
import uuid

import pytest
import requests


def headers(key, user="admin"):
    return {"ftrack-user": user, "ftrack-api-key": key, "Accept-Encoding": "identity"}


def publish(server, key, *events, user="admin"):
    answer = requests.post(f"{server}/events", json=list(events), headers=headers(key, user), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["seq"]


def event(topic="studio.test", **data):
    return {"id": uuid.uuid4().hex, "topic": topic, "data": data, "source": {}, "target": ""}


class Reader:
    """Reads a stream in a thread: its lines as they come."""

    def __init__(self, server, key, user="admin", **params):
        params.setdefault("heartbeat", 0.5)
        self.response = requests.get(f"{server}/events/stream", params=params, headers=headers(key, user), stream=True,
                                     timeout=(10, 30))  # fmt: skip
        assert self.response.status_code == 200, self.response.text
        self.lines = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for line in self.response.iter_lines(chunk_size=None):
                if line:
                    self.lines.append(json.loads(line))
        except (requests.RequestException, AttributeError, ValueError):
            pass

    def events(self):
        return [line for line in self.lines if "heartbeat" not in line]

    def wait_for(self, count, timeout=20):
        deadline = time.monotonic() + timeout
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events()

    def close(self):
        self.response.close()


def test_a_stream_starts_now_then_gives_what_matches_in_order_with_seq(server, admin_key):
    reader = Reader(server, admin_key, subscription="topic=studio.wanted")
    try:
        deadline = time.monotonic() + 10
        while not reader.lines and time.monotonic() < deadline:
            time.sleep(0.01)
        start = reader.lines[0]["heartbeat"]  # the first line: where "now" is
        seqs = publish(server, admin_key, event("studio.wanted", n=1), event("studio.other", n=2),
                       event("studio.wanted", n=3))  # fmt: skip
        got = reader.wait_for(2)
        assert [e["data"]["n"] for e in got] == [1, 3] and [e["seq"] for e in got] == [seqs[0], seqs[2]]
        assert all(e["seq"] > start for e in got)
        assert got[0]["source"]["user"]["username"] == "admin"  # who published, as the credentials say
        assert got[0]["source"]["apiKey"] == {"name": "tests"}  # with which key: a script's, told apart
        time.sleep(1.2)
        assert any("heartbeat" in line for line in reader.lines[1:])  # idle: heartbeats
    finally:
        reader.close()


def test_after_resumes_from_a_seq_and_nothing_is_skipped_or_repeated(server, admin_key):
    seqs = publish(server, admin_key, *[event("studio.resume", n=n) for n in range(30)])
    reader = Reader(server, admin_key, after=seqs[9], subscription="topic=studio.resume")
    try:
        got = reader.wait_for(20)
        assert [e["data"]["n"] for e in got] == list(range(10, 30))
    finally:
        reader.close()


def test_targeted_events_go_to_the_subscriber_they_name(server, admin_key):
    mine = Reader(server, admin_key, subscription="topic=studio.aimed", subscriber=json.dumps({"id": "me"}))
    other = Reader(server, admin_key, subscription="topic=studio.aimed", subscriber=json.dumps({"id": "you"}))
    try:
        aimed = event("studio.aimed", n=1)
        aimed["target"] = "id=me"
        publish(server, admin_key, aimed, event("studio.aimed", n=2))
        assert [e["data"]["n"] for e in mine.wait_for(2)] == [1, 2]
        assert [e["data"]["n"] for e in other.wait_for(1)] == [2]
    finally:
        mine.close()
        other.close()


def test_publishing_an_event_again_appends_it_once(server, admin_key):
    once = event("studio.once")
    first = publish(server, admin_key, once)
    assert publish(server, admin_key, once, event("studio.once"))[0] == first[0]
    reader = Reader(server, admin_key, after=first[0] - 1, subscription="topic=studio.once")
    try:
        got = reader.wait_for(2)
        assert [e["id"] for e in got].count(once["id"]) == 1
    finally:
        reader.close()


@pytest.mark.parametrize("expression", ["topic=", "topic=a and (", 'topic="open'])
def test_a_malformed_expression_is_a_400_with_its_position(server, admin_key, expression):
    answer = requests.get(f"{server}/events/stream", params={"subscription": expression}, headers=headers(admin_key))
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "bad_expression" and body["expression"] == expression
    assert isinstance(body["position"], int) and 0 <= body["position"] <= len(expression)


@pytest.mark.parametrize("request_", [
    ("get", "/events/stream?after=-1", None), ("get", "/events/stream?after=x", None),
    ("post", "/events", "not json"), ("post", "/events", "[1, 2]"), ("put", "/events/cursors/a", '{"seq": "x"}'),
    ("post", "/events/parked/a", "{}"), ("get", "/events/stream?subscription=topic%3Da&subscriber=nope", None),
])  # fmt: skip
def test_bad_input_is_a_4xx_json_error_and_changes_nothing(server, admin_key, request_):
    method, path, body = request_
    answer = requests.request(method, server + path, data=body, headers=headers(admin_key), timeout=10)
    assert 400 <= answer.status_code < 500 and answer.json()["exception"] == "ValidationError", answer.text


def test_without_valid_credentials_every_endpoint_is_refused(server):
    for method, path in [("get", "/events/stream"), ("post", "/events"), ("get", "/events/cursors/a"),
                         ("get", "/events/parked")]:  # fmt: skip
        answer = requests.request(method, server + path, headers=headers("not-a-key"), json=[], timeout=10)
        assert answer.status_code == 401 and answer.json()["exception"] == "InvalidCredentialsError"


def test_cursors_are_kept_per_user_and_name(server, admin_key, backend, call):
    call.create("User", username="curt", is_active=True)
    curt = backend.auth.create_key("curt", "tests")
    assert requests.get(f"{server}/events/cursors/mail", headers=headers(admin_key)).json()["seq"] is None
    assert (
        requests.put(f"{server}/events/cursors/mail", json={"seq": 41}, headers=headers(admin_key)).status_code == 200
    )
    assert (
        requests.put(f"{server}/events/cursors/mail", json={"seq": 42}, headers=headers(admin_key)).status_code == 200
    )
    assert requests.get(f"{server}/events/cursors/mail", headers=headers(admin_key)).json()["seq"] == 42
    assert requests.get(f"{server}/events/cursors/mail", headers=headers(curt, "curt")).json()["seq"] is None


def test_parked_events_are_listed_with_their_event_and_taken_off(server, admin_key):
    (seq,) = publish(server, admin_key, event("studio.parked", n=7))
    listed = requests.get(f"{server}/events/parked/sync", headers=headers(admin_key)).json()["parked"]
    body = {"seq": seq, "event_id": "x", "error": "Traceback: boom", "attempts": 3}
    assert requests.post(f"{server}/events/parked/sync", json=body, headers=headers(admin_key)).status_code == 201
    listed = requests.get(f"{server}/events/parked", headers=headers(admin_key)).json()["parked"]
    (found,) = [p for p in listed if p["seq"] == seq]
    assert found["cursor"] == "sync" and found["error"] == "Traceback: boom" and found["attempts"] == 3
    assert found["event"]["data"] == {"n": 7} and found["event"]["seq"] == seq
    assert requests.delete(f"{server}/events/parked/sync/{seq}", headers=headers(admin_key)).status_code == 200
    assert requests.delete(f"{server}/events/parked/sync/{seq}", headers=headers(admin_key)).status_code == 404
    assert requests.get(f"{server}/events/parked/sync", headers=headers(admin_key)).json()["parked"] == []


def test_a_slow_reader_falls_behind_without_holding_up_another(server, admin_key):
    """One stream is not read while 3,000 large events go by; another gets them all at once; the slow one then
    catches up from the log, in order."""
    slow = requests.get(f"{server}/events/stream", params={"subscription": "topic=studio.bulk", "heartbeat": 0.5},
                        headers=headers(admin_key), stream=True, timeout=(10, 60))  # fmt: skip
    lines = slow.iter_lines()
    first = json.loads(next(lines))  # opened; then left unread
    fast = Reader(server, admin_key, subscription="topic=studio.bulk")
    try:
        padding = "x" * 2000
        for start in range(0, 3000, 500):
            publish(server, admin_key, *[event("studio.bulk", n=n, padding=padding) for n in range(start, start + 500)])
        assert [e["data"]["n"] for e in fast.wait_for(3000, timeout=60)] == list(range(3000))
        got = []
        for line in slow.iter_lines():
            if line and "heartbeat" not in json.loads(line):
                got.append(json.loads(line))
                if len(got) == 3000:
                    break
        assert [e["data"]["n"] for e in got] == list(range(3000)) and got[0]["seq"] > first["heartbeat"]
    finally:
        slow.close()
        fast.close()


def test_a_revoked_keys_stream_ends(server, backend, call):
    call.create("User", username="rev", is_active=True)
    key = backend.auth.create_key("rev", "revoked-soon")
    reader = Reader(server, key, user="rev", subscription="topic=studio.revoked", heartbeat=0.2)
    try:
        time.sleep(0.5)
        assert reader.thread.is_alive()
        backend.auth.revoke("rev", "revoked-soon")
        reader.thread.join(15)
        assert not reader.thread.is_alive()  # the server ended it
    finally:
        reader.close()


def test_a_client_may_not_publish_what_only_the_server_does(server, admin_key, backend):
    for topic in ["ftrack.update", "ftrack.meta.subscribe", "ftrack.meta.disconnected"]:
        last = backend.events.last()
        answer = requests.post(f"{server}/events", json=[event(topic, entities=[])], headers=headers(admin_key),
                               timeout=30)  # fmt: skip
        assert answer.status_code == 403, answer.text
        error = answer.json()
        assert error["exception"] == "PermissionError" and error["error_code"] == "reserved_topic"
        assert repr(topic) in error["content"]
        assert [r["index"] for r in error["refused"]] == [0]
        assert backend.events.last() == last  # nothing went in
    (seq,) = publish(server, admin_key, event("ftrack.meta.reply", answer=42))  # a reply is the client's to send
    assert backend.events.get(seq).topic == "ftrack.meta.reply"


def test_each_published_event_stands_or_falls_alone(server, admin_key, backend):
    fine, reserved, later, malformed = (event("studio.fine", n=1), event("ftrack.update", entities=[]),
                                        event("studio.fine", n=2), {**event("studio.fine"), "target": 7})  # fmt: skip
    answer = requests.post(f"{server}/events", json=[fine, reserved, later, malformed], headers=headers(admin_key),
                           timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    said = answer.json()
    first, refused_seq, second, malformed_seq = said["seq"]
    assert refused_seq is None and malformed_seq is None and second > first
    assert [backend.events.get(seq).data["n"] for seq in (first, second)] == [1, 2]  # the legitimate ones went in
    refusals = {r["index"]: r for r in said["refused"]}
    assert set(refusals) == {1, 3}
    assert refusals[1]["exception"] == "PermissionError" and refusals[1]["id"] == reserved["id"]
    assert refusals[1]["topic"] == "ftrack.update" and "'ftrack.update'" in refusals[1]["content"]
    assert refusals[3]["exception"] == "ValidationError" and "target" in refusals[3]["content"]
    # all refused: the first refusal is the answer, with its status, and every refusal listed
    answer = requests.post(f"{server}/events", json=[malformed, reserved], headers=headers(admin_key), timeout=30)
    assert answer.status_code == 400 and answer.json()["exception"] == "ValidationError"
    assert "2 events, all refused" in answer.json()["content"] and len(answer.json()["refused"]) == 2


def test_a_user_sees_only_the_events_of_the_projects_they_read(server, admin_key, backend, call):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    call.create("User", username="scoped", is_active=True)
    mine = call.create("Project", name="mine", full_name="mine", project_schema_id=schema)["id"]
    theirs = call.create("Project", name="theirs", full_name="theirs", project_schema_id=schema)["id"]
    backend.auth.grant("scoped", "mine")
    key = backend.auth.create_key("scoped", "tests")
    reader = Reader(server, key, user="scoped", subscription="topic=ftrack.update")
    try:
        time.sleep(0.3)
        call.create("Shot", name="secret", parent_id=theirs)
        call.create("Shot", name="visible", parent_id=mine)
        backend.publish(event("ftrack.update", entities=[], marker=True))  # no project: everyone's (a client may not publish one)
        got = reader.wait_for(2)
        time.sleep(0.5)
        got = reader.events()
        projects = {p["entityId"] for e in got for entity in e["data"]["entities"] for p in entity["parents"]
                    if p["entityType"] == "show"}  # fmt: skip
        assert projects == {mine} and any(e["data"].get("marker") for e in got)
    finally:
        reader.close()
