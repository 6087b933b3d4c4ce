"""A password session whose sign-in expires signs in again (``Session(reauthenticate=…)``) for
its event stream and its file transfers too, not only for its queries: a real server on
127.0.0.1, each database.
"""

import io
import logging
import os
import time
import uuid

import pytest
import sqlalchemy as sa

from ftrack_like_api import Session, SessionExpiredError, signin
from ftrack_like_api.event.base import Event

PASSWORD = "correct horse battery"
KIB = 1024


@pytest.fixture(scope="module")
def storage(backend, tmp_path_factory):
    root = tmp_path_factory.mktemp("storage")
    backend.files.configure(root)
    return root


@pytest.fixture
def person(backend):
    """A person who signs in with a password (an administrator: the tests make projects)."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    backend.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": name}}], "admin")
    backend.auth.set_password(name, PASSWORD)
    backend.auth.set_role(name, "admin")
    return name


def expire_sign_ins(backend, name):
    """Every sign-in token of ``name`` past its expiry, as twelve hours later."""
    with backend.engine.begin() as connection:
        connection.execute(sa.text("update auth_token set expires_at = :past where user_id in "
                                   "(select id from resource where username = :name)"),
                           {"past": "2000-01-01 00:00:00", "name": name})  # fmt: skip


def signed_in(server, name, **options):
    """(a session signed in with a password that signs in again when that expires, the sign-ins it asked for)."""
    asked = []

    def again(session):
        asked.append(session)
        return signin(session.server_url, session.api_user, PASSWORD)

    session = Session(server_url=server, token=signin(server, name, PASSWORD), schema_cache_path=False,
                      reauthenticate=again, **options)  # fmt: skip
    return session, asked


def until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_the_event_stream_signs_in_again_and_events_keep_arriving(server, backend, admin_key, person):
    listener, asked = signed_in(server, person)
    publisher = Session(server_url=server, api_user="admin", api_key=admin_key, schema_cache_path=False)
    got = []
    try:
        listener.event_hub.subscribe("topic=studio.again", lambda event: got.append(event["data"]["n"]))
        listener.event_hub.channel.heartbeat = 0.2  # the server checks the credentials every 5 heartbeats
        listener.event_hub.connect()
        publisher.event_hub.connect()
        publisher.event_hub.publish(Event("studio.again", data={"n": 1}))
        assert until(lambda: got == [1])
        first = listener.transport.credentials()

        expire_sign_ins(backend, person)  # while listening: the server ends the stream at its next check
        # The stream signs in again; the session and its stream share the new token.
        assert until(lambda: listener.transport.credentials() != first), "the stream never signed in again"
        assert asked == [listener]
        assert until(lambda: listener.event_hub.connected)
        for n in (2, 3):
            publisher.event_hub.publish(Event("studio.again", data={"n": n}))
        assert until(lambda: got == [1, 2, 3]), got
        # The session's queries use the stream's new sign-in: no second one.
        assert listener.query("User where username is :name", name=person).one()["username"] == person
        assert asked == [listener]
    finally:
        listener.close()
        publisher.close()


def test_without_reauthenticate_the_stream_says_why_it_cannot_connect(server, backend, person, caplog):
    session = Session(server_url=server, token=signin(server, person, PASSWORD), schema_cache_path=False)
    try:
        session.event_hub.channel.heartbeat = 0.2
        session.event_hub.connect()
        with caplog.at_level(logging.WARNING, logger="ftrack_like_api.event.connection"):
            expire_sign_ins(backend, person)
            assert until(lambda: any("refused the credentials" in r.getMessage() for r in caplog.records))
        said = [r.getMessage() for r in caplog.records if "refused the credentials" in r.getMessage()]
        assert "sign in again" in said[0] and "reauthenticate" in said[0]
        assert not session.event_hub.connected
    finally:
        session.close()


def version_in(session):
    project = session.create("Project", {"name": f"p{uuid.uuid4().hex[:8]}",
                                         "project_schema": session.query("ProjectSchema").first()})  # fmt: skip
    shot = session.create("Shot", {"name": "sh010", "parent": project})
    asset = session.create("Asset", {"name": "comp", "parent": shot, "type": session.query("AssetType").first()})
    version = session.create("AssetVersion", {"asset": asset})
    session.commit()
    return version


def component_of(session, version, size):
    component = session.create("FileComponent", {"name": "plate", "file_type": ".bin", "size": size,
                                                 "version_id": version["id"]})  # fmt: skip
    session.commit()
    return component["id"]


@pytest.mark.parametrize("part_size", [None, 64 * KIB], ids=["whole", "parts"])
def test_uploads_and_downloads_sign_in_again_as_queries_do(server, backend, storage, person, part_size, tmp_path):
    session, asked = signed_in(server, person)
    with session:
        version = version_in(session)
        data = os.urandom(4 * 64 * KIB)
        component = component_of(session, version, len(data))
        files = session.transport.files()

        expire_sign_ins(backend, person)
        files.upload(component, "plate.bin", io.BytesIO(data), part_size=part_size)
        assert len(asked) == 1

        expire_sign_ins(backend, person)
        back = io.BytesIO()
        assert files.download(component, back) == len(data)
        assert back.getvalue() == data and len(asked) == 2

        expire_sign_ins(backend, person)
        with files.open(component) as stream:  # a stream, and a link, the same
            assert stream.read() == data
        expire_sign_ins(backend, person)
        assert files.url(component).startswith(server)
        assert len(asked) == 4


def test_a_transfer_without_reauthenticate_says_the_sign_in_expired(server, backend, storage, person):
    from ftrack_like_api.exceptions import FileTransferError

    with Session(server_url=server, token=signin(server, person, PASSWORD), schema_cache_path=False) as session:
        component = component_of(session, version_in(session), 3)
        expire_sign_ins(backend, person)
        with pytest.raises(FileTransferError, match="sign in again") as raised:
            session.transport.files().upload(component, "x.bin", io.BytesIO(b"abc"))
        assert raised.value.code == "session_expired"
        with pytest.raises(FileTransferError, match="sign in again"):
            session.transport.files().download(component, io.BytesIO())
        with pytest.raises(SessionExpiredError):
            session.query("User").first()
