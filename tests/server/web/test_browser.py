"""The web page in a real browser (headless Chromium): what a coordinator and a freelancer do, and what hostile input cannot.

Controls are found by the labels people and assistive technology read: "User name",
"Password", "Sign in", "Filter", "Status", "Sign out", "My tasks".
"""

import os
import pathlib
import time

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (the test extra)").expect

from .conftest import HOSTILE_SHOT, HOSTILE_TASK, PASSWORD  # noqa: E402

#: Where screenshots for the docs go, when asked: FTRACK_LIKE_WEB_SCREENSHOTS=docs/_static.
SCREENSHOTS = os.environ.get("FTRACK_LIKE_WEB_SCREENSHOTS")


def screenshot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=str(pathlib.Path(SCREENSHOTS) / f"web-{name}.png"), full_page=False)


@pytest.fixture
def open_page(chromium, studio):
    """``open_page("coord")``: a new browser context signed in as that person through the sign-in form."""
    contexts = []

    def signed_in(username, width=1280):
        context = chromium.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.violations = []
        page.on("console", lambda message: page.violations.append(message.text)
                if "Content Security Policy" in message.text or "Refused to" in message.text else None)  # fmt: skip
        page.goto(f"{studio.url}/")
        if username == "coord":
            screenshot(page, "sign-in")
        page.get_by_label("User name").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{studio.url}/web/projects")
        return page

    yield signed_in
    for context in contexts:
        context.close()


def row(page, task_id):
    return page.locator(f'tr[data-id="{task_id}"]')


def wait_until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition did not come true in time")


def test_a_coordinator_signs_in_filters_changes_a_status_and_signs_out(studio, open_page):
    page = open_page("coord")
    screenshot(page, "projects")
    page.get_by_role("link", name="The Demo").click()
    page.get_by_label("Filter").fill('type.name is "Compositing" and assignments any (resource.username is "jo")')
    page.get_by_label("Filter").press("Enter")
    page.wait_for_url("**filter=*")
    expected = studio.query(f'select status_id from Task where project_id is "{studio.project}" and type.name is '
                            f'"Compositing" order by parent.name')  # fmt: skip
    assert page.locator("tr.task").count() == len(expected)
    task = expected[0]
    wanted = next(s for s in studio.query("select name from Status") if s["id"] != task["status_id"])
    row(page, task["id"]).get_by_label("Status").select_option(wanted["id"])
    wait_until(lambda: studio.query(f'select status_id from Task where id is "{task["id"]}"')[0]["status_id"] == wanted["id"])
    screenshot(page, "sheet")
    # The URL holds the view: opened again, it shows the same.
    again = page.context.new_page()
    again.goto(page.url)
    assert again.locator("tr.task").count() == len(expected)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/web/signin")
    assert page.get_by_label("User name").is_visible()
    assert not page.violations


def test_a_bad_filter_says_where_in_the_page(studio, open_page):
    page = open_page("coord")
    page.goto(f"{studio.url}/web/projects/{studio.project}")
    page.get_by_label("Filter").fill("status.name is and")
    page.get_by_label("Filter").press("Enter")
    alert = page.get_by_role("alert")
    assert "at character" in alert.inner_text()
    assert page.locator("pre.where mark").count() == 1
    screenshot(page, "filter-error")


def test_another_sessions_change_appears_without_reloading(studio, open_page):
    watcher, changer = open_page("coord"), open_page("admin")
    task = studio.query(f'select status_id from Task where project_id is "{studio.project}" and name is "light" limit 1')[0]
    wanted = next(s for s in studio.query("select name from Status") if s["id"] != task["status_id"])
    watcher.goto(f"{studio.url}/web/projects/{studio.project}")
    watcher.wait_for_selector("body[data-listening]")
    watcher.evaluate("window.notReloaded = true")
    changer.goto(f"{studio.url}/web/entities/Task/{task['id']}")
    changer.get_by_label("Status").select_option(wanted["id"])
    # (Polled from here: the page's CSP lets no test code be evaluated from a string in it.)
    expect(row(watcher, task["id"]).get_by_label("Status")).to_have_value(wanted["id"], timeout=10_000)
    assert watcher.evaluate("window.notReloaded") is True
    assert f"status-{wanted['id']}" in (row(watcher, task["id"]).get_attribute("class") or "")


def test_hostile_names_show_as_text_and_run_nothing(studio, open_page):
    page = open_page("admin")
    page.goto(f"{studio.url}/web/projects/{studio.other_project}")
    assert page.get_by_text(HOSTILE_SHOT).count() == 1
    assert page.get_by_text(HOSTILE_TASK).count() == 1
    page.goto(f"{studio.url}/web/entities/Task/{studio.hostile_task}")
    assert page.evaluate("window.pwned") is None
    assert page.locator("img[src=x]").count() == 0 and not page.violations


def test_a_change_without_the_csrf_token_is_refused_in_the_browser(studio, open_page):
    page = open_page("coord")
    task = studio.query(f'select name from Task where project_id is "{studio.project}" and name is "comp" limit 1')[0]
    page.goto(f"{studio.url}/web/projects/{studio.project}")
    status = page.evaluate(
        """async (url) => (await fetch(url, {method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/x-www-form-urlencoded"},
             body: "field=name&value=forged"})).status""", f"{studio.url}/web/entities/Task/{task['id']}")
    assert status == 403
    assert studio.query(f'select name from Task where id is "{task["id"]}"')[0]["name"] == "comp"


def test_the_freelancer_sees_only_their_project(studio, open_page):
    page = open_page("free")
    links = page.locator("ul.projects li > a:first-child").all_inner_texts()
    assert links == ["Side Project"]
    page.goto(f"{studio.url}/web/projects/{studio.project}")
    assert page.get_by_role("heading", name="Not found").is_visible()
    page.get_by_role("link", name="My tasks").click()
    assert page.get_by_role("heading", name="My tasks").is_visible()


def test_notes_and_the_entity_page_on_a_tablet(studio, open_page):
    page = open_page("coord", width=800)
    page.goto(f"{studio.url}/web/entities/Shot/{studio.shots[1]}")
    page.get_by_label("New note").fill("Warmer, please.")
    page.get_by_role("button", name="Add note").click()
    assert page.get_by_text("Warmer, please.").is_visible()
    screenshot(page, "entity")
    page.goto(f"{studio.url}/web/activity")
    assert page.locator("ol.activity li").count() > 0
    screenshot(page, "activity")


def test_a_colleagues_note_appears_on_an_open_page(studio, open_page):
    page = open_page("coord")
    shot = studio.shots[2]
    page.goto(f"{studio.url}/web/entities/Shot/{shot}")
    page.wait_for_selector("body[data-listening]")
    page.evaluate("() => { window.notReloaded = true; }")
    studio.call({"action": "create", "entity_type": "Note", "entity_data": {
        "content": "From a colleague: <b>tighter</b>", "parent_id": shot, "parent_type": "Shot"}})  # fmt: skip
    expect(page.locator("#thread")).to_contain_text("From a colleague: <b>tighter</b>", timeout=10_000)
    assert page.evaluate("() => window.notReloaded") is True
