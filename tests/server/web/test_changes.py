"""Changes in place over real HTTP: each one batch through the engine; CSRF, origin and permissions refuse the rest."""

import json
import re
import threading

import requests

from .conftest import csrf_of


def a_task(studio, name="comp"):
    return studio.query(f'select name, status_id, start_date from Task where project_id is "{studio.project}" '
                        f'and name is "{name}" order by parent.name limit 1')[0]  # fmt: skip


def other_status(studio, task):
    return next(s for s in studio.query("select name from Status") if s["id"] != task["status_id"])


def change(browser, studio, task_id, field, value, csrf, **extra):
    return browser.post(f"{studio.url}/web/entities/Task/{task_id}", data={"field": field, "value": value, "csrf": csrf},
                        allow_redirects=False, **extra)  # fmt: skip


def test_a_status_change_from_the_form_is_one_commit_the_api_sees(studio, web):
    browser = web("coord")
    task = a_task(studio)
    page = browser.get(f"{studio.url}/web/entities/Task/{task['id']}")
    wanted = other_status(studio, task)
    last = studio.backend.events.last()
    answer = change(browser, studio, task["id"], "status", wanted["id"], csrf_of(page.text))
    assert answer.status_code == 303 and answer.headers["location"] == f"/web/entities/Task/{task['id']}"
    assert studio.query(f'select status_id from Task where id is "{task["id"]}"')[0]["status_id"] == wanted["id"]
    events = studio.backend.events.read(last, limit=10)
    assert len(events) == 1 and events[0].topic == "ftrack.update"  # one commit, one event
    assert events[0].source["user"]["username"] == "coord"
    assert events[0].data["entities"][0]["changes"]["statusid"]["new"] == wanted["id"]


def test_the_pages_script_gets_json_and_the_engines_refusal_in_words(studio, web):
    browser = web("coord")
    task = a_task(studio, "anim")
    csrf = csrf_of(browser.get(f"{studio.url}/web/projects").text)
    headers = {"Accept": "application/json", "X-CSRF-Token": csrf}
    ok = browser.post(f"{studio.url}/web/entities/Task/{task['id']}", data={"field": "name", "value": "animation"},
                      headers=headers)  # fmt: skip
    assert ok.json() == {"ok": True}
    assert studio.query(f'select name from Task where id is "{task["id"]}"')[0]["name"] == "animation"
    bad = browser.post(f"{studio.url}/web/entities/Task/{task['id']}", data={"field": "status", "value": "no-such-status"},
                       headers=headers)  # fmt: skip
    assert bad.status_code == 400 and bad.json()["ok"] is False and bad.json()["message"]
    empty = browser.post(f"{studio.url}/web/entities/Task/{task['id']}", data={"field": "name", "value": " "},
                         headers=headers)  # fmt: skip
    assert empty.status_code == 400 and "empty" in empty.json()["message"]
    assert studio.query(f'select name from Task where id is "{task["id"]}"')[0]["name"] == "animation"


def test_dates_and_assignees_change_in_place(studio, web):
    browser = web("coord")
    task = a_task(studio, "light")
    csrf = csrf_of(browser.get(f"{studio.url}/web/projects").text)
    assert change(browser, studio, task["id"], "end_date", "2027-03-14", csrf).status_code == 303
    stored = studio.query(f'select end_date from Task where id is "{task["id"]}"')[0]["end_date"]
    assert str(stored.get("value") if isinstance(stored, dict) else stored).startswith("2027-03-14")
    assert change(browser, studio, task["id"], "assignees", "jo, sam", csrf).status_code == 303
    names = studio.query(f'select resource.username from Appointment where context_id is "{task["id"]}"')
    assert sorted(a["resource"]["username"] for a in names) == ["jo", "sam"]
    refused = change(browser, studio, task["id"], "assignees", "jo, nobody-here", csrf)
    assert "No+user+called+nobody-here" in refused.headers["location"]
    page = browser.get(studio.url + refused.headers["location"])
    assert "No user called nobody-here" in page.text and 'value="jo, sam"' in page.text
    bad_day = change(browser, studio, task["id"], "start_date", "soon", csrf)
    assert "not+a+date" in bad_day.headers["location"]


def test_a_change_without_its_csrf_token_or_from_elsewhere_changes_nothing(studio, web):
    browser = web("coord")
    task = a_task(studio)
    wanted = other_status(studio, task)
    csrf = csrf_of(browser.get(f"{studio.url}/web/projects").text)
    before = studio.backend.events.last()
    for answer in (
        change(browser, studio, task["id"], "status", wanted["id"], ""),
        change(browser, studio, task["id"], "status", wanted["id"], "0" * 64),
        change(browser, studio, task["id"], "status", wanted["id"], csrf_of(web("admin").get(f"{studio.url}/web/projects").text)),
        change(browser, studio, task["id"], "status", wanted["id"], csrf, headers={"Origin": "https://evil.example"}),
        # A forged form from another site carries no cookie (SameSite) and no token: refused either way.
        requests.post(f"{studio.url}/web/entities/Task/{task['id']}", data={"field": "status", "value": wanted["id"]},
                      allow_redirects=False),
    ):
        assert answer.status_code in (401, 403), answer.status_code
    assert studio.query(f'select status_id from Task where id is "{task["id"]}"')[0]["status_id"] == task["status_id"]
    assert studio.backend.events.last() == before


def test_the_freelancer_cannot_change_what_they_cannot_see(studio, web):
    browser = web("free")
    task = a_task(studio)
    csrf = csrf_of(browser.get(f"{studio.url}/web/projects").text)
    answer = change(browser, studio, task["id"], "name", "mine now", csrf)
    assert answer.status_code in (303, 404)
    assert studio.query(f'select name from Task where id is "{task["id"]}"')[0]["name"] == "comp"
    note = browser.post(f"{studio.url}/web/entities/Task/{task['id']}/notes", data={"content": "hi", "csrf": csrf},
                        allow_redirects=False)  # fmt: skip
    assert note.status_code == 404


def test_notes_are_read_added_and_replied_to(studio, web):
    browser = web("coord")
    shot = studio.shots[0]
    page = browser.get(f"{studio.url}/web/entities/Shot/{shot}")
    csrf = csrf_of(page.text)
    added = browser.post(f"{studio.url}/web/entities/Shot/{shot}/notes", data={"content": "More <b>grain</b>", "csrf": csrf},
                         allow_redirects=False)  # fmt: skip
    assert added.status_code == 303
    note = studio.query(f'select content, author.username, parent_type from Note where parent_id is "{shot}"')[0]
    assert note["content"] == "More <b>grain</b>" and note["author"]["username"] == "coord"
    browser.post(f"{studio.url}/web/entities/Shot/{shot}/notes", data={"content": "Done.", "in_reply_to": note["id"],
                                                                      "csrf": csrf})  # fmt: skip
    reply = studio.query(f'select content from Note where in_reply_to_id is "{note["id"]}"')
    assert [r["content"] for r in reply] == ["Done."]
    shown = browser.get(f"{studio.url}/web/entities/Shot/{shot}").text
    assert "More &lt;b&gt;grain&lt;/b&gt;" in shown and 'class="replies"' in shown and "Done." in shown
    assert "Children" in shown and "Versions" in shown and "fps" in shown  # children, versions, custom attributes


def test_a_live_stream_brings_others_changes_and_only_what_the_visitor_may_see(studio, web):
    task = a_task(studio)
    wanted = other_status(studio, task)
    seen = {}

    def listen(username):
        with web(username).get(f"{studio.url}/web/live", stream=True, timeout=20) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            seen[username + "-open"] = True
            for line in stream.iter_lines(chunk_size=None, decode_unicode=True):
                if line.startswith("data: "):
                    seen.setdefault(username, []).append(json.loads(line[6:]))
                    if any(e["id"] == task["id"] for update in seen[username] for e in update["entities"]):
                        return
                    if any(e["id"] == studio.hostile_task for update in seen[username] for e in update["entities"]):
                        return

    listeners = [threading.Thread(target=listen, args=(name,), daemon=True) for name in ("coord", "free")]
    for listener in listeners:
        listener.start()
    import time

    deadline = time.monotonic() + 10
    while not (seen.get("coord-open") and seen.get("free-open")) and time.monotonic() < deadline:
        time.sleep(0.05)
    studio.call({"action": "update", "entity_type": "Task", "entity_key": [task["id"]],
                 "entity_data": {"status_id": wanted["id"]}})  # fmt: skip
    studio.call({"action": "update", "entity_type": "Task", "entity_key": [studio.hostile_task],
                 "entity_data": {"description": "seen by the freelancer"}})  # fmt: skip
    for listener in listeners:
        listener.join(timeout=15)
    coord = [e for update in seen["coord"] for e in update["entities"]]
    assert any(e["id"] == task["id"] and e["changes"]["statusid"] == wanted["id"] for e in coord)
    free = [e["id"] for update in seen["free"] for e in update["entities"]]
    assert studio.hostile_task in free and task["id"] not in free  # the log's own permission rule


def test_a_row_fragment_is_what_a_live_sheet_swaps_in(studio, web):
    task = a_task(studio)
    row = web("coord").get(f"{studio.url}/web/rows/{task['id']}")
    assert row.status_code == 200 and re.match(rf'<tr data-id="{task["id"]}"', row.text)
    assert web("free").get(f"{studio.url}/web/rows/{task['id']}").status_code == 404
