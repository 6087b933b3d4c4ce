"""Two ``ftrack-like serve`` processes on one database: a session id from one opens its socket on
the other, and what is published or committed through one reaches subscribers of the other
(PostgreSQL: LISTEN/NOTIFY; SQLite: the log, polled)."""

import uuid

import pytest

pytest.importorskip("websockets", reason="the server extra is not installed")

import requests  # noqa: E402

from ftrack_like_api.server import Backend  # noqa: E402


def test_sessions_and_events_cross_between_server_processes(database, serve, hubs):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "two servers")
    with serve(database) as one, serve(database) as two:
        # Shaken hands with one, connected to two: the session id carries its own proof.
        listener = hubs(one, "admin", key, socket_url=two)
        asker = hubs(two, "admin", key, socket_url=one)
        assert listener.subscribe("topic=test.cross or topic=ftrack.update", {"id": "listener"}) == {"success": True}
        assert asker.subscribe("topic=ftrack.meta.reply", {"id": asker.id}) == {"success": True}
        asked = asker.publish("test.cross", {"n": 1})  # through one
        received = listener.next_event()  # on two
        assert received["id"] == asked["id"] and received["data"] == {"n": 1}
        listener.publish("ftrack.meta.reply", {"back": True}, target=f"id={asker.id}", inReplyToEvent=asked["id"])
        reply = asker.next_event()
        assert reply["inReplyToEvent"] == asked["id"] and reply["data"] == {"back": True}
        # A change committed through one (its API) reaches the listener on two as ftrack.update.
        headers = {"ftrack-user": "admin", "ftrack-api-key": key}
        user = str(uuid.uuid4())
        answer = requests.post(f"{one}/api", headers=headers, timeout=60, json=[{
            "action": "create", "entity_type": "User", "entity_key": [user],
            "entity_data": {"id": user, "username": f"u-{user[:8]}"}}])  # fmt: skip
        assert answer.status_code == 200 and isinstance(answer.json(), list), answer.text
        update = listener.next_event(timeout=30)
        assert update["topic"] == "ftrack.update" and user in str(update["data"])
