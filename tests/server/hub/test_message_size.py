"""The websocket server itself refuses a message past the hub's size (``ws_max_size``), before reading it
whole: only that socket closes, and the server keeps serving — in ``serving()`` and ``ftrack-like serve``.

uvicorn's default takes up to 16 MiB; the hub's own check (characters) runs only on what it
was given. A packet of fewer characters than the hub allows but more bytes than the server
reads (``é`` is two bytes) tells the two apart: the hub would have stored it.
"""

import json
import uuid

import pytest

pytest.importorskip("websockets", reason="the server extra is not installed")

import requests  # noqa: E402

from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.server.app import create_app, serving  # noqa: E402
from ftrack_like_api.server.protocols.ftrack.hub import MAX_MESSAGE  # noqa: E402
from ftrack_like_api.server.protocols.ftrack.hub.packets import MAX_PACKET  # noqa: E402

#: A publish of fewer characters than MAX_PACKET, but more bytes than MAX_MESSAGE.
WIDE = "é" * (MAX_MESSAGE // 2 + 1000)


def too_big(hub):
    event = {"topic": "test.wide", "id": uuid.uuid4().hex, "data": {"text": WIDE}, "source": {"id": hub.id}}
    packet = "5:1+::" + json.dumps({"name": "ftrack.event", "args": [event]}, ensure_ascii=False)
    assert len(packet) < MAX_PACKET < MAX_MESSAGE < len(packet.encode())
    return packet


def check(url, key, hubs, backend):
    healthy, broken = hubs(url, "admin", key), hubs(url, "admin", key, max_size=None)
    assert healthy.subscribe("topic=test.after or topic=test.wide") == {"success": True}
    last = backend.events.last()
    broken.send(too_big(broken))
    assert broken.closed() == 1009  # message too big
    healthy.publish("test.after")
    assert healthy.next_event()["topic"] == "test.after"  # the wide one never reached the hub
    assert [e.topic for e in backend.events.read(last, 10)] == ["test.after"]
    assert requests.get(f"{url}/health", timeout=10).status_code == 200
    again = hubs(url, "admin", key)  # and new sockets open
    assert again.subscribe("topic=test.again") == {"success": True}


def test_serving_refuses_an_oversized_message_and_goes_on(backend, admin_key, hubs):
    with serving(create_app(backend)) as url:
        check(url, admin_key, hubs, backend)


def test_ftrack_like_serve_refuses_an_oversized_message_and_goes_on(database, serve, hubs):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "message size")
        with serve(database) as url:
            check(url, key, hubs, backend)
