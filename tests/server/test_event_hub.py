"""The client's event hub (ftrack's interface) against a real served server and in embedded mode, on each database."""

import contextlib
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ftrack_like_api import Session
from ftrack_like_api.event.base import Event
from ftrack_like_api.exceptions import ExpressionError


def until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def session_for(server, admin_key):
    made = []

    def session(url=None, **options):
        created = Session(
            server_url=url or server, api_user="admin", api_key=admin_key, schema_cache_path=False, **options
        )
        made.append(created)
        return created

    yield session
    for created in made:
        created.close()


def test_published_events_reach_subscribers_of_other_sessions_in_wait_in_order(session_for):
    listener, publisher = session_for(), session_for()
    got, threads = [], set()

    def record(event):
        got.append(event["data"]["n"])
        threads.add(threading.current_thread().name)

    listener.event_hub.subscribe("topic=studio.hub and data.n>=0", record)
    listener.event_hub.connect()
    publisher.event_hub.connect()
    assert listener.event_hub.connected and publisher.event_hub.connected
    for n in range(50):
        publisher.event_hub.publish(Event("studio.hub", data={"n": n}))
    publisher.event_hub.publish(Event("studio.other", data={"n": -1}))
    main = threading.current_thread().name
    deadline = time.monotonic() + 20
    while len(got) < 50 and time.monotonic() < deadline:
        listener.event_hub.wait(0.2)
    assert got == list(range(50))
    assert main in threads  # ftrack's way: callbacks run in wait()


def test_without_wait_callbacks_run_on_the_hubs_worker(session_for):
    listener, publisher = session_for(), session_for()
    got = []
    listener.event_hub.subscribe("topic=studio.gui", lambda event: got.append(threading.current_thread().name))
    listener.event_hub.connect()
    publisher.event_hub.connect()
    publisher.event_hub.publish(Event("studio.gui"))
    assert until(lambda: got) and got == ["event-hub-worker"]


def test_a_reply_comes_back_to_on_reply_and_publish_reply_answers(session_for):
    asker, answerer = session_for(), session_for()
    answerer.event_hub.subscribe("topic=studio.question", lambda event: {"answer": event["data"]["n"] * 2})

    def by_hand(event):
        answerer.event_hub.publish_reply(event, {"by": "hand"})

    answerer.event_hub.subscribe("topic=studio.question", by_hand)
    answerer.event_hub.connect()
    asker.event_hub.connect()
    replies = []
    asker.event_hub.publish(Event("studio.question", data={"n": 21}), on_reply=lambda reply: replies.append(reply))
    assert until(lambda: len(replies) == 2)
    assert sorted(map(str, (r["data"] for r in replies))) == ["{'answer': 42}", "{'by': 'hand'}"]
    assert all(r["topic"] == "ftrack.meta.reply" and r["in_reply_to_event"] for r in replies)


def test_reply_bookkeeping_expires(session_for):
    asker = session_for()
    asker.event_hub.reply_timeout = 0.2
    asker.event_hub.connect()
    asker.event_hub.publish(Event("studio.nobody-answers"), on_reply=print)
    assert len(asker.event_hub._replies) == 1
    time.sleep(0.3)
    asker.event_hub.publish(Event("studio.answer-me"), on_reply=print)
    asker.event_hub._on_reply(Event("ftrack.meta.reply", in_reply_to_event="none"))
    assert len(asker.event_hub._replies) == 1  # the first one's has gone


def test_priority_stop_and_a_failing_callback(session_for, caplog):
    listener, publisher = session_for(), session_for()
    calls = []
    listener.event_hub.subscribe("topic=studio.order", lambda e: 1 / 0, priority=1)
    listener.event_hub.subscribe("topic=studio.order", lambda e: calls.append("first") or e.stop(), priority=10)
    listener.event_hub.subscribe("topic=studio.order", lambda e: calls.append("never"), priority=20)
    listener.event_hub.subscribe("topic=studio.order-2", lambda e: calls.append("after"))
    listener.event_hub.connect()
    publisher.event_hub.connect()
    with caplog.at_level(logging.ERROR):
        publisher.event_hub.publish(Event("studio.order"))
        publisher.event_hub.publish(Event("studio.order-2"))
        assert until(lambda: "after" in calls)
    assert calls == ["first", "after"] and "ZeroDivisionError" in caplog.text


def test_subscription_as_a_context_manager_and_subscribing_while_connected(session_for):
    listener, publisher = session_for(), session_for()
    listener.event_hub.connect()
    publisher.event_hub.connect()
    got = []
    with listener.event_hub.subscription("topic=studio.scoped", lambda e: got.append(e["data"]["n"])):
        time.sleep(0.3)  # the stream is opened again with the new subscription
        publisher.event_hub.publish(Event("studio.scoped", data={"n": 1}))
        assert until(lambda: got == [1])
    publisher.event_hub.publish(Event("studio.scoped", data={"n": 2}))
    publisher.event_hub.publish(Event("studio.marker"))
    time.sleep(0.5)
    assert got == [1] and listener.event_hub.subscriptions() == ["topic=ftrack.meta.reply"]


def test_a_malformed_subscription_is_refused_with_its_position(session_for):
    with pytest.raises(ExpressionError) as refused:
        session_for().event_hub.subscribe("topic=a and (data.x=1", print)
    assert refused.value.position is not None


def test_auto_connect_connects_in_the_background(session_for):
    session = session_for(auto_connect_event_hub=True)
    assert until(lambda: session.event_hub.connected)


def serve_on(backend, port):
    """The app under uvicorn on a fixed port (so it can come back on the same one)."""
    import uvicorn

    from ftrack_like_api.server.app import create_app

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(
        uvicorn.Config(create_app(backend), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert until(lambda: server.started)

    def stop():
        server.should_exit = True
        thread.join(30)
        sock.close()

    return stop


def test_after_a_lost_connection_the_hub_resumes_and_sends_what_was_kept(backend, admin_key, call, caplog):
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = serve_on(backend, port)
    url = f"http://127.0.0.1:{port}"
    got = []
    with Session(server_url=url, api_user="admin", api_key=admin_key, schema_cache_path=False) as session:
        session.event_hub.subscribe("topic=studio.resumed", lambda e: got.append(e["data"]["n"]))
        session.event_hub.connect()
        session.event_hub.publish(Event("studio.resumed", data={"n": 1}))
        assert until(lambda: got == [1])
        stop()
        assert until(lambda: not session.event_hub.connected)
        session.event_hub.publish(Event("studio.resumed", data={"n": 2}))  # kept while the server is away
        backend.publish(
            {"topic": "studio.resumed", "data": {"n": 3}, "source": {}, "target": ""}
        )  # committed meanwhile
        stop = serve_on(backend, port)
        try:
            assert until(lambda: sorted(got) == [1, 2, 3])
            assert got[:2] == [1, 3] or got[:2] == [1, 2]  # the log's order, whichever went in first
            assert len(got) == 3
        finally:
            session.close()
            stop()


def test_embedded_mode_sees_what_another_process_publishes_and_commits(fresh_database):
    url = fresh_database
    got = []
    with Session(server_url=url, api_user="admin", schema_cache_path=False) as session:
        session.event_hub.subscribe("topic=studio.elsewhere", lambda e: got.append(e["data"]["n"]))
        session.event_hub.connect()
        script = textwrap.dedent(f"""
            from ftrack_like_api import Session
            from ftrack_like_api.event.base import Event
            with Session(server_url={url!r}, api_user="admin", schema_cache_path=False) as other:
                other.event_hub.connect()
                for n in range(5):
                    other.event_hub.publish(Event("studio.elsewhere", data={{"n": n}}))
                project = other.create("Project", {{"name": "elsewhere", "project_schema": other.query("ProjectSchema").first()}})
                other.commit()
        """)  # fmt: skip
        updates = []
        session.event_hub.subscribe("topic=ftrack.update", updates.append)
        subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
        assert until(lambda: got == list(range(5)))
        assert until(lambda: updates)  # and the other process's commit


def test_a_callback_may_wait_in_turn(session_for):
    listener, publisher = session_for(), session_for()
    got = []

    def outer(event):
        got.append("outer")
        listener.event_hub.wait(0.5)  # as a script's callback sometimes does; the next event comes in here

    listener.event_hub.subscribe("topic=studio.outer", outer)
    listener.event_hub.subscribe("topic=studio.inner", lambda e: got.append("inner"))
    listener.event_hub.connect()
    publisher.event_hub.connect()
    publisher.event_hub.publish(Event("studio.outer"))
    publisher.event_hub.publish(Event("studio.inner"))
    assert until(lambda: got == ["outer", "inner"])


@pytest.mark.parametrize("mode", ["http", "embedded"])
def test_a_refused_event_is_told_to_its_publisher_and_holds_back_no_other(mode, session_for, fresh_database, caplog):
    """A client may not publish ``ftrack.update``: that one is refused, the events around it are published."""
    if mode == "http":
        listener, publisher = session_for(), session_for()
    else:
        listener = Session(server_url=fresh_database, api_user="admin", schema_cache_path=False)
        publisher = Session(server_url=fresh_database, api_user="admin", schema_cache_path=False)
    try:
        got, refused = [], []
        listener.event_hub.subscribe("topic=studio.around or topic=ftrack.update", lambda e: got.append(e["topic"]))
        listener.event_hub.connect()
        publisher.event_hub.connect()
        publisher.event_hub.publish(Event("studio.around", data={"n": 1}))
        forged = Event("ftrack.update", data={"entities": []})
        publisher.event_hub.publish(forged, on_error=lambda event, error: refused.append((event, error)))
        publisher.event_hub.publish(Event("ftrack.update", data={"entities": []}))  # no on_error: logged
        publisher.event_hub.publish(Event("studio.around", data={"n": 2}))
        assert until(lambda: got == ["studio.around", "studio.around"] and refused)
        ((event, error),) = refused
        assert event is forged and error.exception == "PermissionError" and error.code == "reserved_topic"
        assert until(lambda: "the server refused the 'ftrack.update' event" in caplog.text)
        time.sleep(0.3)
        assert got == ["studio.around", "studio.around"]  # the forged updates reached no one
    finally:
        if mode == "embedded":
            listener.close()
            publisher.close()


def test_a_durable_listeners_hub_raises_a_refusal_at_once(fresh_database):
    """With no connection (a listener's hub sends through its channel), ``publish`` raises the refusal."""
    from ftrack_like_api.exceptions import ServerError

    with Session(server_url=fresh_database, api_user="admin", schema_cache_path=False) as session:
        hub = session.event_hub
        hub.channel  # noqa: B018 - made, as a durable listener's hub has it, without connecting
        with pytest.raises(ServerError, match=r"ftrack\.update") as raised:
            hub.publish(Event("ftrack.update", data={"entities": []}))
        assert raised.value.exception == "PermissionError"
        told = []
        hub.publish(Event("ftrack.update", data={}), on_error=lambda event, error: told.append(error.code))
        assert told == ["reserved_topic"]
        hub.publish(Event("ftrack.update", data={}), on_error="ignore")
