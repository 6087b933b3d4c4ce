"""The event log in a running server: the broker runs with it, old events are pruned, and a
change made over HTTP says which API key made it (a real uvicorn on 127.0.0.1)."""

import datetime
import time
import uuid

import pytest
import requests
import sqlalchemy as sa

from ftrack_like_api.exceptions import ValidationError
from ftrack_like_api.server import Backend
from ftrack_like_api.server.app import create_app, serving
from ftrack_like_api.server.events.retention import parse_retention, prune_interval


@pytest.mark.parametrize("text, seconds", [
    ("30d", 30 * 86400), ("12h", 12 * 3600), ("90m", 5400), ("45s", 45), ("2w", 14 * 86400), ("10", 10),
    (" 1.5h ", 5400), ("7D", 7 * 86400),
])  # fmt: skip
def test_a_retention_is_a_number_and_a_unit(text, seconds):
    assert parse_retention(text) == datetime.timedelta(seconds=seconds)


def test_zero_keeps_events_forever_and_nonsense_is_refused():
    assert parse_retention("0") is None and parse_retention("0d") is None
    for bad in ("", "d", "30 days", "-1d", "1y", "forever"):
        with pytest.raises(ValidationError, match="number and a unit"):
            parse_retention(bad)
    assert prune_interval(datetime.timedelta(days=30)) == 3600 and prune_interval(datetime.timedelta(seconds=5)) == 60


def test_serve_refuses_a_bad_retention_with_a_clear_message(capsys):
    from ftrack_like_api.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--event-retention", "a month"])
    assert exited.value.code == 2
    assert "--event-retention: A retention is a number and a unit" in capsys.readouterr().err


def test_the_served_app_runs_the_broker_prunes_and_names_the_key(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        old = backend.publish({"topic": "old.news"})
        kept = backend.publish({"topic": "recent.news"})
        with backend.engine.begin() as connection:
            table = backend.events.table
            connection.execute(table.update().where(table.c.seq == old.seq)
                               .values(sent=datetime.datetime(2020, 1, 1)))  # fmt: skip
        key = backend.auth.create_key("admin", "nuke-publisher")
        with serving(create_app(backend, event_retention=datetime.timedelta(days=30))) as url:
            assert backend.broker.running
            deadline = time.monotonic() + 30  # pruned once as the server starts
            while backend.events.get(old.seq) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert backend.events.get(old.seq) is None and backend.events.get(kept.seq) is not None
            shot = str(uuid.uuid4())
            project = requests.post(f"{url}/api", headers={"ftrack-user": "admin", "ftrack-api-key": key}, json=[
                {"action": "query", "expression": "select id from ProjectSchema limit 1"}], timeout=30).json()
            schema = project[0]["data"][0]["id"]
            answer = requests.post(f"{url}/api", headers={"ftrack-user": "admin", "ftrack-api-key": key}, json=[
                {"action": "create", "entity_type": "Project", "entity_key": [shot],
                 "entity_data": {"id": shot, "name": "served", "full_name": "Served", "project_schema_id": schema}},
            ], timeout=30)  # fmt: skip
            assert answer.status_code == 200 and isinstance(answer.json(), list), answer.text
            (event,) = backend.events.read(kept.seq, topics=["ftrack.update"])
            assert event.source["apiKey"] == {"name": "nuke-publisher"} and event.source["user"]["username"] == "admin"
            assert event.data["entities"][0]["entityType"] == "show" and event.project_id == shot
            assert backend.broker.latest() == event.seq
        assert not backend.broker.running, "the broker stops with the server"


def test_an_app_with_no_retention_keeps_everything(fresh_database):
    with Backend.from_url(fresh_database) as backend:
        old = backend.publish({"topic": "old.news"})
        with backend.engine.begin() as connection:
            connection.execute(sa.update(backend.events.table).values(sent=datetime.datetime(2000, 1, 1)))
        with serving(create_app(backend, event_retention=None)):
            assert backend.broker.running
        assert backend.events.get(old.seq) is not None
