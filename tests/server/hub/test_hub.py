"""ftrack's event hub over a real server on 127.0.0.1, packet by packet: handshake, subscriptions,
routing by subscription and target, replies, and what closes one connection (never another)."""

import json
import socket
import threading
import time
import uuid

import pytest

pytest.importorskip("websockets", reason="the server extra is not installed")

import requests  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402

from ftrack_like_api.server.app import create_app, serving  # noqa: E402

#: Short heartbeats, so that silence and revoked keys are noticed within a test.
HEARTBEAT, TIMEOUT = 0.2, 1.0



@pytest.fixture(scope="module")
def hub_app(backend):
    return create_app(backend, heartbeat=HEARTBEAT, heartbeat_timeout=TIMEOUT)


@pytest.fixture(scope="module")
def url(hub_app):
    with serving(hub_app) as url:
        yield url


def tight(url):
    """A TCP connection to ``url`` whose receive buffer stays small: a client that stops reading is felt at once."""
    host, port = url.split("//")[1].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: no autotuning past it
    sock.connect((host, int(port)))
    return sock


def _handshake(url, user, key):
    return requests.get(f"{url}/socket.io/1/", headers={"ftrack-user": user, "ftrack-api-key": key}, timeout=10)


def test_the_handshake_answers_a_session_with_the_credentials_of_the_api_and_refuses_others(url, backend, admin_key):
    answer = _handshake(url, "admin", admin_key)
    assert answer.status_code == 200
    session_id, heartbeat, close, transports = answer.text.split(":")
    assert session_id and heartbeat == close == f"{TIMEOUT:.0f}" and transports.split(",") == ["websocket"]
    assert _handshake(url, "admin", "not the key").status_code == 401
    assert _handshake(url, "nobody", admin_key).status_code == 401
    refused = requests.get(f"{url}/socket.io/1/", timeout=10)
    assert refused.status_code == 401 and refused.json()["error_code"] == "invalid_credentials"
    backend.auth.set_password("admin", "a long password")
    token = requests.post(f"{url}/signin", json={"username": "admin", "password": "a long password"}, timeout=10).json()
    bearer = requests.get(f"{url}/socket.io/1/", headers={"Authorization": f"Bearer {token['token']}"}, timeout=10)
    assert bearer.status_code == 200 and bearer.text.endswith(":websocket")


def test_a_session_id_opens_one_socket_and_cannot_be_made_up(url, admin_key, hubs, socket_opener):
    hub = hubs(url, "admin", admin_key)
    nonce, expires, user, signature = hub.session_id.split(".")
    for session_id in [
        hub.session_id,  # spent
        f"{nonce}.{expires}.{user}.{'0' * len(signature)}",  # forged
        f"{nonce}.{int(expires) + 3600}.{user}.{signature}",  # lengthened
        "nothing-like-one",
    ]:
        with pytest.raises(InvalidStatus) as refused:
            socket_opener(url, session_id)
        assert refused.value.response.status_code == 403


def test_subscribers_get_what_they_subscribed_to_and_replies_find_who_asked(url, admin_key, hubs):
    asker, answerer, bystander = hubs(url, "admin", admin_key), hubs(url, "admin", admin_key), hubs(url, "admin", admin_key)
    assert asker.subscribe("topic=ftrack.meta.reply", {"id": asker.id}) == {"success": True}
    assert bystander.subscribe("topic=ftrack.meta.reply or topic=test.marker", {"id": bystander.id}) == {"success": True}
    assert answerer.subscribe("topic=test.ask and data.question=life", {"id": "answerer", "applicationId": "x"}) == {
        "success": True
    }
    asker.publish("test.ask", {"question": "other"})  # not what the answerer subscribed to
    asked = asker.publish("test.ask", {"question": "life"}, source={"id": asker.id, "user": {"username": "forged"}})
    received = answerer.next_event()
    assert received["id"] == asked["id"] and received["data"] == {"question": "life"}
    assert received["source"]["id"] == asker.id
    assert received["source"]["user"]["username"] == "admin"  # who the credentials say, not what the event claimed
    assert received["inReplyToEvent"] is None and "seq" not in received  # ftrack's keys, as its Event takes them
    answerer.publish("ftrack.meta.reply", {"answer": 42}, target=f"id={asker.id}", inReplyToEvent=asked["id"])
    reply = asker.next_event()
    assert reply["topic"] == "ftrack.meta.reply" and reply["data"] == {"answer": 42}
    assert reply["inReplyToEvent"] == asked["id"] and reply["target"] == f"id={asker.id}"
    # The bystander also subscribes to replies, but the reply was aimed at the asker: the next
    # event it gets, in the log's order, is the marker published after the reply.
    asker.publish("test.marker")
    assert bystander.next_event()["topic"] == "test.marker"


def test_a_reply_carries_whatever_the_callback_returned_and_other_events_carry_objects(url, admin_key, hubs):
    # ftrack's client publishes a subscriber's return value as the reply's data, whatever it is.
    asker, answerer = hubs(url, "admin", admin_key), hubs(url, "admin", admin_key)
    assert asker.subscribe("topic=ftrack.meta.reply", {"id": asker.id}) == {"success": True}
    for value in ["Replied", 42, ["One", "Two"], True]:
        answerer.publish("ftrack.meta.reply", value, target=f"id={asker.id}", inReplyToEvent=uuid.uuid4().hex)
        assert asker.next_event()["data"] == value
    refused = answerer.emit({"topic": "test.plain", "id": uuid.uuid4().hex, "data": "text", "source": {"id": "x"}})
    assert refused["success"] is False and "data is an object" in refused["message"]


def test_unsubscribing_stops_the_events_and_a_malformed_subscription_is_refused_with_where(url, admin_key, hubs, hub_app):
    hub = hubs(url, "admin", admin_key)
    refused = hub.subscribe("topic=test.x and data.y")
    assert refused["success"] is False and refused["error_code"] == "bad_expression"
    assert refused["position"] == len("topic=test.x and data.y") and "column 24" in refused["message"]
    assert hub.subscribe("topic=test.x", {"id": "s1"}) == {"success": True}
    assert hub.subscribe("topic=test.x", {"id": "s1"}) == {"success": True}  # the same again: no change
    assert hub.subscribe("topic=test.y", {"id": "s1"})["success"] is False  # another with its id
    assert hub.subscribe("topic=test.marker", {"id": "s2"}) == {"success": True}
    hub.publish("test.x")
    assert hub.next_event()["topic"] == "test.x"
    assert hub.unsubscribe("s1") == {"success": True}
    assert hub.unsubscribe("s1")["success"] is False
    hub.publish("test.x")
    hub.publish("test.marker")
    assert hub.next_event()["topic"] == "test.marker"  # the second test.x never came
    (connection,) = [c for c in hub_app.state.hub.connections if c.visitor.user_id and len(c.subscribers) == 1]
    assert connection.subscribers.topics == {"test.marker"}


def test_a_committed_change_reaches_subscribers_as_ftrack_update(url, admin_key, hubs):
    hub = hubs(url, "admin", admin_key)
    assert hub.subscribe("topic=ftrack.update") == {"success": True}
    schema = requests.post(f"{url}/api", json=[{"action": "query", "expression": "select id from ProjectSchema"}],
                           headers={"ftrack-user": "admin", "ftrack-api-key": admin_key}, timeout=30).json()
    project = str(uuid.uuid4())
    created = requests.post(f"{url}/api", json=[{"action": "create", "entity_type": "Project", "entity_key": [project],
                            "entity_data": {"id": project, "name": f"p{project[:8]}", "full_name": "P",
                                            "project_schema_id": schema[0]["data"][0]["id"]}}],
                            headers={"ftrack-user": "admin", "ftrack-api-key": admin_key}, timeout=30)  # fmt: skip
    assert created.status_code == 200 and isinstance(created.json(), list), created.text
    update = hub.next_event()
    assert update["topic"] == "ftrack.update"
    assert project in str(update["data"])


def test_a_client_may_not_publish_what_only_the_server_does(url, admin_key, hubs, backend):
    hub, listener = hubs(url, "admin", admin_key), hubs(url, "admin", admin_key)
    assert listener.subscribe("topic=ftrack.update or topic=ftrack.meta.* or topic=test.after", {"id": listener.id}) == {
        "success": True
    }
    last = backend.events.last()
    for topic in ["ftrack.update", "ftrack.meta.connected", "ftrack.meta.anything"]:
        answer = hub.emit({"topic": topic, "id": uuid.uuid4().hex, "data": {"entities": []}, "source": {"id": hub.id}})
        assert answer["success"] is False and answer["exception"] == "PermissionError", answer
        assert answer["error_code"] == "reserved_topic" and topic in answer["message"]
    hub.publish("ftrack.meta.reply", {"fine": True}, target=f"id={listener.id}")  # a reply is the client's to send
    hub.publish("test.after")
    assert [e["topic"] for e in (listener.next_event(), listener.next_event())] == ["ftrack.meta.reply", "test.after"]
    assert [e.topic for e in backend.events.read(last, 100)] == ["ftrack.meta.reply", "test.after"]  # nothing else stored


@pytest.mark.parametrize(
    ("packet", "code"),
    [
        ("not a packet", 1008),
        ("5:1+::{not json", 1008),
        ('5:1+::{"name": "something.else", "args": [{}]}', 1008),
        (b"\x00binary", 1008),
        ("5:1+::" + "x" * (1024 * 1024), 1009),
    ],
    ids=["garbage", "bad-json", "not-ftrack", "binary", "oversized"],
)
def test_a_malformed_packet_closes_its_connection_and_no_other(url, admin_key, hubs, packet, code, caplog):
    healthy, broken = hubs(url, "admin", admin_key), hubs(url, "admin", admin_key, max_size=None)
    assert healthy.subscribe("topic=test.after") == {"success": True}
    with caplog.at_level("WARNING", logger="ftrack_like_api.server.protocols.ftrack.hub.connection"):
        broken.send(packet)
        assert broken.closed() == code
    assert any("closed:" in record.getMessage() for record in caplog.records)
    healthy.publish("test.after")
    assert healthy.next_event()["topic"] == "test.after"
    assert requests.get(f"{url}/health", timeout=10).status_code == 200


def test_a_silent_client_is_closed_and_one_that_answers_heartbeats_stays(url, admin_key, hubs):
    silent = hubs(url, "admin", admin_key)
    assert silent.closed(timeout=TIMEOUT * 10) == 1008  # read, never answered
    lively = hubs(url, "admin", admin_key)
    assert lively.subscribe("topic=test.alive") == {"success": True}
    deadline = time.monotonic() + TIMEOUT * 3
    while time.monotonic() < deadline:  # answering every heartbeat, for longer than the timeout
        try:
            lively._packet(timeout=HEARTBEAT)
        except TimeoutError:
            pass
    assert lively.heartbeats >= 3
    lively.publish("test.alive")
    assert lively.next_event()["topic"] == "test.alive"


@pytest.mark.parametrize("ending", ["key revoked", "tokens ended", "user disabled"])
def test_a_socket_whose_credentials_end_is_closed(url, backend, call, hubs, ending):
    name = f"ends-{uuid.uuid4().hex[:8]}"
    user_id = call.create("User", username=name)["id"]
    backend.auth.create_key(name, "another")  # stays live: only the one in use ends
    key = backend.auth.create_key(name, "to revoke")
    if ending == "tokens ended":
        backend.auth.set_password(name, "a long password")
        token = requests.post(f"{url}/signin", json={"username": name, "password": "a long password"}, timeout=10)
        hub = hubs(url, token.json()["token"], None)
    else:
        hub = hubs(url, name, key)
    assert hub.subscribe("topic=test.x") == {"success": True}
    if ending == "key revoked":
        backend.auth.revoke(name, "to revoke")
    elif ending == "tokens ended":
        backend.auth.logout_everywhere(name)
    else:
        call({"action": "update", "entity_type": "User", "entity_key": [user_id], "entity_data": {"is_active": False}})
    code = None
    deadline = time.monotonic() + TIMEOUT * 10
    while code is None and time.monotonic() < deadline:  # answering heartbeats: only the credentials end it
        try:
            hub._packet(timeout=HEARTBEAT)
        except TimeoutError:
            pass
        except Exception as closed:  # noqa: BLE001 - ConnectionClosed
            code = closed.rcvd.code
    assert code == 1008
    if ending != "tokens ended":
        assert _handshake(url, name, key).status_code == 401


def test_a_socket_gets_only_the_events_its_user_may_read(url, backend, call, admin_key, hubs):
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    opened = call.create("Project", name="hub-open", full_name="open", project_schema_id=schema)["id"]
    secret = call.create("Project", name="hub-secret", full_name="secret", project_schema_id=schema)["id"]
    call.create("User", username="freelancer")
    backend.auth.grant("freelancer", "hub-open")
    free, admin = hubs(url, "freelancer", backend.auth.create_key("freelancer", "hub")), hubs(url, "admin", admin_key)
    for hub in (free, admin):
        assert hub.subscribe("topic=test.project") == {"success": True}
    for project in (secret, opened, None):  # the server's own events, filed under a project or none
        backend.publish({"topic": "test.project", "data": {"project": project}, "project_id": project})
    assert [admin.next_event()["data"]["project"] for _ in range(3)] == [secret, opened, None]
    assert [free.next_event()["data"]["project"] for _ in range(2)] == [opened, None]
    backend.auth.allow_all_projects("freelancer")  # seen at the next heartbeat
    deadline = time.monotonic() + TIMEOUT * 5
    while time.monotonic() < deadline:
        try:
            free._packet(timeout=HEARTBEAT)
        except TimeoutError:
            pass
    backend.publish({"topic": "test.project", "data": {"project": secret}, "project_id": secret})
    assert free.next_event()["data"]["project"] == secret


class Deaf:
    """A websocket client that reads until it is subscribed, then sends heartbeats and never reads again.

    websockets' protocol without its I/O, over a socket whose receive buffer stays small (a
    client library would go on reading in a thread of its own).
    """

    def __init__(self, url, key):
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri

        session_id = _handshake(url, "admin", key).text.split(":")[0]
        self.protocol = ClientProtocol(parse_uri(f"ws{url[4:]}/socket.io/1/websocket/{session_id}"))
        self.protocol.send_request(self.protocol.connect())
        self.sock = tight(url)
        self.flush()
        self.read_until(lambda text: text == "1::")

    def flush(self):
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def send(self, text):
        self.protocol.send_text(text.encode())
        self.flush()

    def read_until(self, wanted):
        while True:
            self.protocol.receive_data(self.sock.recv(65536))
            for received in self.protocol.events_received():
                if getattr(received, "data", None) is not None and wanted(received.data.decode()):
                    return

    def subscribe(self, expression):
        self.send("5:1+::" + json.dumps({"name": "ftrack.event", "args": [{
            "topic": "ftrack.meta.subscribe", "id": uuid.uuid4().hex, "source": {"id": "deaf"},
            "data": {"subscriber": {"id": "deaf"}, "subscription": expression}}]}))  # fmt: skip
        self.read_until(lambda text: text.startswith("6:::1+"))


def test_a_client_that_answers_heartbeats_but_reads_nothing_is_closed(url, admin_key, hubs, hub_app):
    before = set(hub_app.state.hub.connections)
    deaf = Deaf(url, admin_key)
    (connection,) = set(hub_app.state.hub.connections) - before
    deaf.subscribe("topic=test.flood")
    stop = threading.Event()

    def beat():  # heartbeats sent blindly, never a packet read
        while not stop.wait(HEARTBEAT):
            try:
                deaf.send("2:::")
            except OSError:  # closed: the test looks at why
                return

    threading.Thread(target=beat, daemon=True).start()
    publisher = hubs(url, "admin", admin_key)
    try:
        for index in range(300):  # 6 MB: more than the socket buffers hold (kept small)
            publisher.publish("test.flood", {"index": index, "blob": "x" * 20_000})
            if connection not in hub_app.state.hub.connections:
                break
        deadline = time.monotonic() + TIMEOUT * 10
        while connection in hub_app.state.hub.connections and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        deaf.sock.close()
    assert connection._ending.code == 1008 and "took no packet" in connection._ending.reason


def test_a_slow_connection_never_holds_the_others_back(url, admin_key, hubs, hub_app):
    # The slow one stops reading once subscribed: its buffers fill and the server's send to it
    # waits (until the server gives up on it); the fast one reads on, in a thread of its own.
    before = set(hub_app.state.hub.connections)
    slow = Deaf(url, admin_key)
    (slow_connection,) = set(hub_app.state.hub.connections) - before
    slow.subscribe("topic=test.bulk")
    fast = hubs(url, "admin", admin_key)
    assert fast.subscribe("topic=test.bulk") == {"success": True}
    publisher = hubs(url, "admin", admin_key)
    count, blob = 300, "x" * 20_000  # 6 MB: more than the slow one's buffers hold
    received = []
    reader = threading.Thread(target=lambda: received.extend(fast.next_event(timeout=60)["data"]["index"]
                                                             for _ in range(count)))  # fmt: skip
    reader.start()
    try:
        for index in range(count):
            publisher.publish("test.bulk", {"index": index, "blob": blob})
        reader.join(timeout=120)
        assert received == list(range(count))
        # And the one that reads nothing (nor answers heartbeats) is closed, after the timeout.
        deadline = time.monotonic() + TIMEOUT * 10
        while slow_connection in hub_app.state.hub.connections and time.monotonic() < deadline:
            time.sleep(0.1)
        assert slow_connection not in hub_app.state.hub.connections and slow_connection._ending.code == 1008
    finally:
        slow.sock.close()
