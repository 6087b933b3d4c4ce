"""``/metrics``: Prometheus' text, counted per request and summed over a server's workers, for administrators
and the scraper's token only."""

import uuid

import pytest
import requests

pytest.importorskip("prometheus_client", reason="the server extra is not installed")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from ftrack_like_api.server import Backend  # noqa: E402


def samples(text):
    """{(name, frozenset(labels)): value} of a scrape."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}  # fmt: skip


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


def query(url, key, user="admin"):
    answer = requests.post(f"{url}/api", json=[{"action": "query", "expression": "select id from ProjectSchema"}],
                           headers={"ftrack-user": user, "ftrack-api-key": key}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text


def test_an_administrator_reads_what_happened_and_no_one_else_does(server, admin_key, backend, call):
    before = samples(requests.get(f"{server}/metrics", headers={"ftrack-user": "admin", "ftrack-api-key": admin_key},
                                  timeout=30).text)  # fmt: skip
    for _ in range(3):
        query(server, admin_key)
    backend.publish({"topic": "studio.metrics", "id": uuid.uuid4().hex})
    user = call.create("User", username=f"m{uuid.uuid4().hex[:6]}", is_active=True)
    key = backend.auth.create_key(user["username"], "tests")
    # A durable listener's cursor, behind the log's end: its lag is what it has still to handle.

    from ftrack_like_api.server.events.listeners import Listeners

    Listeners(backend.engine, backend.storage.events).set_cursor(user["id"], "studio-listeners", 0)
    answer = requests.get(f"{server}/metrics", headers={"ftrack-user": "admin", "ftrack-api-key": admin_key}, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    found = samples(answer.text)
    api = {"route": "/api", "method": "POST", "status": "200"}
    assert value(found, "ftrack_like_requests_total", **api) - value(before, "ftrack_like_requests_total", **api) == 3
    assert value(found, "ftrack_like_operations_total", action="query") >= 3
    assert value(found, "ftrack_like_batch_statements_count") >= 3
    assert value(found, "ftrack_like_request_seconds_count", route="/api") >= 3
    last = backend.events.last()
    assert value(found, "ftrack_like_event_log_last_seq") == last
    assert value(found, "ftrack_like_listener_lag_events", user=user["username"], listener="studio-listeners") == last
    assert user["username"] in answer.text and "ftrack-api-key" not in answer.text and admin_key not in answer.text
    # Not for anyone else: no credentials, a user who is not an administrator, a wrong key.
    for headers in ({}, {"ftrack-user": user["username"], "ftrack-api-key": key},
                    {"ftrack-user": "admin", "ftrack-api-key": "wrong"}, {"Authorization": "Bearer guess"}):  # fmt: skip
        refused = requests.get(f"{server}/metrics", headers=headers, timeout=30)
        assert refused.status_code == 403 and refused.json()["exception"] == "PermissionError", headers
        assert "ftrack_like" not in refused.text


def test_several_workers_are_summed_and_the_scraper_uses_its_token(database, serve):
    with Backend.from_url(database) as backend:
        key = backend.auth.create_key("admin", "metrics")
    with serve(database, "--workers", "2", "--metrics-token", "scrape-me") as url:
        before = samples(requests.get(f"{url}/metrics", headers={"Authorization": "Bearer scrape-me"}, timeout=30).text)
        for _ in range(20):  # new connections each: the workers share them out
            query(url, key)
        scraped = requests.get(f"{url}/metrics", headers={"Authorization": "Bearer scrape-me"}, timeout=30)
        assert scraped.status_code == 200, scraped.text
        found = samples(scraped.text)
        api = {"route": "/api", "method": "POST", "status": "200"}
        assert value(found, "ftrack_like_requests_total", **api) - value(before, "ftrack_like_requests_total", **api) == 20
        # Whichever worker answers the scrape, it says the same: the sum of both.
        counts = {value(samples(requests.get(f"{url}/metrics", headers={"Authorization": "Bearer scrape-me"},
                                             timeout=30).text), "ftrack_like_requests_total", **api)
                  for _ in range(8)}  # fmt: skip
        assert counts == {value(found, "ftrack_like_requests_total", **api)}
        assert requests.get(f"{url}/metrics", headers={"Authorization": "Bearer other"}, timeout=30).status_code == 403
