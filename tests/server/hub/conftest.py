"""A socket.io 0.9 client of the fewest parts, speaking to the hub packet by packet as ftrack's client does."""

import json
import time
import uuid

import pytest

pytest.importorskip("websockets", reason="the server extra is not installed")

import requests  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import connect  # noqa: E402


def open_socket(url, session_id, **options):
    """The websocket of ``session_id`` (entered as a context, as websockets wants it)."""
    return connect(f"ws{url[4:]}/socket.io/1/websocket/{session_id}", proxy=None, open_timeout=10, **options).__enter__()


def handshake(url, user, key):
    """The handshake's answer (a response); ``key`` None: ``user`` is a bearer token."""
    headers = {"ftrack-user": user, "ftrack-api-key": key} if key is not None else {"Authorization": f"Bearer {user}"}
    return requests.get(f"{url}/socket.io/1/", headers=headers, timeout=10)


class RawHub:
    """One connection: sends packets, reads events and acknowledgements, answers heartbeats.

    The handshake goes to ``url``, the websocket to ``socket_url`` (another server's, say) or ``url``;
    with ``key`` None, ``user`` is a bearer token.
    """

    def __init__(self, url, user, key, socket_url=None, **options):
        answer = handshake(url, user, key)
        assert answer.status_code == 200, answer.text
        self.session_id = answer.text.split(":")[0]
        self.socket = open_socket(socket_url or url, self.session_id, **options)
        assert self.socket.recv(timeout=10) == "1::"
        self.id = uuid.uuid4().hex
        self.sent = 0
        self.heartbeats = 0
        self.events = []  # read while waiting for an acknowledgement

    def send(self, text):
        self.socket.send(text)

    def emit(self, event):
        """Send ``event`` as ftrack's client does (``5:N+::``); the acknowledgement's answer."""
        self.sent += 1
        self.send(f"5:{self.sent}+::" + json.dumps({"name": "ftrack.event", "args": [event]}))
        while True:
            packet = self._packet(10)
            if packet.startswith("6:::"):
                number, args = packet[4:].split("+", 1)
                assert int(number) == self.sent
                return json.loads(args)[0]

    def subscribe(self, expression, subscriber=None):
        subscriber = subscriber or {"id": uuid.uuid4().hex}
        return self.emit({"topic": "ftrack.meta.subscribe", "id": uuid.uuid4().hex, "source": {"id": self.id},
                          "data": {"subscriber": subscriber, "subscription": expression}})  # fmt: skip

    def unsubscribe(self, subscriber_id):
        return self.emit({"topic": "ftrack.meta.unsubscribe", "id": uuid.uuid4().hex, "source": {"id": self.id},
                          "data": {"subscriber": {"id": subscriber_id}}})  # fmt: skip

    def publish(self, topic, data=None, **more):
        event = {"topic": topic, "id": uuid.uuid4().hex, "data": data or {}, "source": {"id": self.id}, "target": ""}
        event.update(more)
        answer = self.emit(event)
        assert answer == {"success": True}, answer
        return event

    def next_event(self, timeout=10):
        """The next event the server sends (heartbeats answered on the way)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.events:
                return self.events.pop(0)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no event within {timeout} s")
            packet = self._packet(left)
            assert packet.startswith("6:::") is False, f"an acknowledgement nobody waits for: {packet}"

    def _packet(self, timeout):
        packet = self.socket.recv(timeout=timeout)
        if packet == "2::":
            self.heartbeats += 1
            self.send("2:::")
        elif packet.startswith("5:::"):
            payload = json.loads(packet[4:])
            assert payload["name"] == "ftrack.event" and len(payload["args"]) == 1
            self.events.append(payload["args"][0])
        return packet

    def closed(self, timeout=10):
        """The close code the server ended the connection with (reading, without answering, until then)."""
        try:
            while True:
                self.socket.recv(timeout=timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None

    def close(self):
        self.socket.close()


@pytest.fixture
def socket_opener():
    """``open_socket(url, session_id)``: a test's way to the hub's websocket without the handshake."""
    return open_socket


@pytest.fixture
def hubs():
    """``hubs(url, user, key)``: a new :class:`RawHub`, closed after the test."""
    made = []

    def make(*args, **options):
        made.append(RawHub(*args, **options))
        return made[-1]

    yield make
    for hub in made:
        hub.close()
