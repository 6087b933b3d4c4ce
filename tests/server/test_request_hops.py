"""``POST /api`` takes one turn at the database for a small request: the credentials' check, the idempotency
key's claim and the batch run one after the other in one of the gate's threads (one thread hop, not three).

Turns are counted by the gate's own metric (``ftrack_like_gate_wait_seconds_count``: one per call), on both
databases; what each request does is checked as well (its answer, the claim kept, a stranger refused).
"""

import gzip
import json
import uuid

import pytest
import requests

pytest.importorskip("prometheus_client", reason="the server extra is not installed")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

TURNS = "ftrack_like_gate_wait_seconds_count"


def turns(server, key):
    """The gate's turns so far (a scrape takes turns of its own: see :func:`turns_of`)."""
    text = requests.get(f"{server}/metrics", headers={"ftrack-user": "admin", "ftrack-api-key": key}, timeout=30).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == TURNS)  # fmt: skip


def turns_of(server, key, requests_made, count=5):
    """Turns each of ``count`` calls of ``requests_made()`` took (a scrape's own turns taken away)."""
    first = turns(server, key)
    second = turns(server, key)
    for _ in range(count):
        requests_made()
    third = turns(server, key)
    return (third - second - (second - first)) / count


def post(server, key, batch, **headers):
    headers = {"ftrack-user": "admin", "ftrack-api-key": key, "content-type": "application/json", **headers}
    return requests.post(f"{server}/api", data=json.dumps(batch), timeout=30, headers=headers)


def test_a_small_read_is_one_turn(server, admin_key):
    def read():
        answer = post(server, admin_key, [{"action": "query", "expression": "select name from Status limit 1"}])
        assert answer.status_code == 200 and answer.json()[0]["data"][0]["name"]

    assert turns_of(server, admin_key, read) == 1


def test_a_write_with_a_key_is_one_turn_and_runs_once(server, admin_key, call, backend):
    admin = call.query('select id, first_name from User where username is "admin"')[0]
    backend.auth._remembered = 2  # the tidying of old answers (a turn of its own every 100 writes) is not due here
    sent = []

    def write():
        key = uuid.uuid4().hex
        batch = [{"action": "update", "entity_type": "User", "entity_key": [admin["id"]],
                  "entity_data": {"first_name": admin["first_name"]}}]  # fmt: skip
        answer = post(server, admin_key, batch, **{"ftrack-idempotency-key": key})
        assert answer.status_code == 200 and answer.json()[0]["data"]["first_name"] == admin["first_name"]
        sent.append((key, batch, answer.text))

    assert turns_of(server, admin_key, write) == 1
    # The answer was kept with its key in the batch's transaction: the same request again gets it, and runs nothing.
    key, batch, text = sent[-1]
    again = post(server, admin_key, batch, **{"ftrack-idempotency-key": key})
    assert again.status_code == 200 and again.text == text


def test_a_stranger_is_refused_before_anything_else_whatever_the_body(server, admin_key):
    for body in (json.dumps([{"action": "query", "expression": "Status"}]), "not json", json.dumps({"not": "a list"})):
        answer = requests.post(f"{server}/api", data=body, headers={"ftrack-user": "admin", "ftrack-api-key": "wrong"},
                               timeout=30)  # fmt: skip
        assert answer.status_code == 401, (body, answer.text)
    # A malformed body from who is known is told so (as ftrack's server tells it).
    assert post(server, admin_key, {"not": "a list"}).json()["error_code"] == "bad_request"


def test_a_large_or_gzipped_body_is_read_once_its_sender_is_known(server, admin_key):
    """Such a body takes a turn for the credentials first (a stranger's is never read), then one for the batch."""
    body = gzip.compress(json.dumps([{"action": "query", "expression": "select name from Status limit 1"}]).encode())

    def read():
        answer = requests.post(f"{server}/api", data=body, timeout=30, headers={
            "ftrack-user": "admin", "ftrack-api-key": admin_key, "content-encoding": "gzip"})  # fmt: skip
        assert answer.status_code == 200 and answer.json()[0]["data"][0]["name"]

    assert turns_of(server, admin_key, read) == 2
    refused = requests.post(f"{server}/api", data=body, timeout=30, headers={
        "ftrack-user": "admin", "ftrack-api-key": "wrong", "content-encoding": "gzip"})  # fmt: skip
    assert refused.status_code == 401
