"""Issue 21's "Done when", walked as one coordinator's day in headless Chromium, on SQLite and PostgreSQL.

Only what a person does in the browser: sign in ("User name", "Password", "Sign in"), open the
project, find a shot by typing a condition into "Filter", change a task's "Status", add a note,
see a colleague's change (made through the API by another user) appear without reloading, open
Review, see a version's thumbnail load and its movie play, "Sign out" — after which the old
cookie opens nothing.

The project here holds a few thousand tasks (made through the engine in one batch, so CI stays
quick); benchmarks/web.py covers projects of 100,000 tasks and more.
"""

import io
import pathlib
import uuid

import pytest

expect = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (the test extra)").expect
Image = pytest.importorskip("PIL.Image", reason="thumbnails need Pillow (the server extra)")

from .conftest import PASSWORD  # noqa: E402

#: A real, tiny, web-playable movie (2 s of VP8 at 64x36; see tests/fixtures/media/README.md).
MOVIE = pathlib.Path(__file__).parents[2] / "fixtures" / "media" / "review.webm"
SEQUENCES, SHOTS, TASKS = 10, 30, 10  # 3,000 tasks
NAMES = ("layout", "anim", "fx", "light", "comp", "roto", "paint", "track", "matte", "grade")


def png(width, height):
    out = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 220)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def crowd(studio):
    """A project of SEQUENCES x SHOTS x TASKS tasks, created in one batch, with a version (thumbnail, WebM movie) on the hero shot."""
    schema = studio.query('ProjectSchema where name is "VFX"')[0]["id"]
    task_type = studio.query('Type where name is "Compositing"')[0]["id"]
    asset_type = studio.query('AssetType where short is "comp"')[0]["id"]
    project = str(uuid.uuid4())
    operations = [{"action": "create", "entity_type": "Project", "entity_data": {
        "id": project, "name": "crowd", "full_name": "Crowd Project", "project_schema_id": schema}}]  # fmt: skip
    shots = {}
    for s in range(SEQUENCES):
        sequence = str(uuid.uuid4())
        operations.append({"action": "create", "entity_type": "Sequence",
                           "entity_data": {"id": sequence, "name": f"sq{s:03d}", "parent_id": project}})
        for h in range(SHOTS):
            name = f"sh{s * SHOTS + h:04d}"
            shots[name] = str(uuid.uuid4())
            operations.append({"action": "create", "entity_type": "Shot",
                               "entity_data": {"id": shots[name], "name": name, "parent_id": sequence}})
            operations.extend({"action": "create", "entity_type": "Task", "entity_data": {
                "name": NAMES[t], "parent_id": shots[name], "type_id": task_type}} for t in range(TASKS))  # fmt: skip
    studio.call(*operations)
    hero = "sh0217"
    asset = studio.call({"action": "create", "entity_type": "Asset", "entity_data": {
        "name": f"{hero}_comp", "context_id": shots[hero], "type_id": asset_type}})[0]["data"]["id"]  # fmt: skip
    version = studio.call({"action": "create", "entity_type": "AssetVersion",
                           "entity_data": {"asset_id": asset, "comment": "First comp"}})[0]["data"]["id"]
    made = {}
    for name, file_type, data in (("thumbnail", ".png", png(640, 360)), ("review", ".webm", MOVIE.read_bytes())):
        made[name] = studio.call({"action": "create", "entity_type": "FileComponent", "entity_data": {
            "name": name, "file_type": file_type, "version_id": version}})[0]["data"]["id"]  # fmt: skip
        studio.backend.files.put("admin", made[name], [data])
    studio.call({"action": "update", "entity_type": "AssetVersion", "entity_key": [version],
                 "entity_data": {"thumbnail_id": made["thumbnail"]}})  # fmt: skip
    return {"project": project, "hero": hero, "version": version}


def test_a_coordinator_walks_the_whole_day_in_the_browser(studio, chromium, crowd):
    assert len(studio.query(f'select id from Task where project_id is "{crowd["project"]}"')) == SEQUENCES * SHOTS * TASKS
    context, stale = chromium.new_context(viewport={"width": 1280, "height": 800}), None
    try:
        page = context.new_page()
        page.goto(f"{studio.url}/")
        page.get_by_label("User name").fill("coord")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{studio.url}/web/projects")

        # Open the project; find the hero shot among its thousands of tasks by filtering.
        page.get_by_role("link", name="Crowd Project").click()
        page.get_by_label("Filter").fill(f'parent.name is "{crowd["hero"]}"')
        page.get_by_label("Filter").press("Enter")
        page.wait_for_url("**filter=*")
        expect(page.locator("tr.task")).to_have_count(TASKS)
        assert page.get_by_role("link", name=crowd["hero"]).count() >= 1
        hero_tasks = studio.query(f'select id from Task where project_id is "{crowd["project"]}" and parent.name is "{crowd["hero"]}"')
        assert sorted(page.locator("tr.task").evaluate_all("rows => rows.map(r => r.dataset.id)")) == sorted(t["id"] for t in hero_tasks)

        # Change a task's status in the sheet; the change is in the API.
        tasks = page.locator("tr.task")
        first, second = tasks.nth(0), tasks.nth(1)
        first_id, second_id = first.get_attribute("data-id"), second.get_attribute("data-id")
        select = first.get_by_label("Status")
        before = select.input_value()
        wanted = next(v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v != before)
        select.select_option(wanted)
        expect(page.locator(f'tr[data-id="{first_id}"]').get_by_label("Status")).to_have_value(wanted)
        for _ in range(200):  # the page saves in the background: wait (up to 10 s) for the change to be stored
            if studio.query(f'select status_id from Task where id is "{first_id}"')[0]["status_id"] == wanted:
                break
            page.wait_for_timeout(50)
        assert studio.query(f'select status_id from Task where id is "{first_id}"')[0]["status_id"] == wanted

        # A colleague changes another task through the API: it appears here without reloading.
        page.wait_for_selector("body[data-listening]")
        page.evaluate("() => { window.notReloaded = true; }")
        other = studio.query(f'select status_id from Task where id is "{second_id}"')[0]["status_id"]
        theirs = next(v for v in second.get_by_label("Status").locator("option").evaluate_all("os => os.map(o => o.value)")
                      if v != other)  # fmt: skip
        studio.call({"action": "update", "entity_type": "Task", "entity_key": [second_id],
                     "entity_data": {"status_id": theirs}}, user="jo")  # fmt: skip
        expect(page.locator(f'tr[data-id="{second_id}"]').get_by_label("Status")).to_have_value(theirs, timeout=10_000)
        assert page.evaluate("() => window.notReloaded") is True

        # Add a note on the task.
        page.locator(f'tr[data-id="{first_id}"] td.name a').click()
        page.wait_for_url(f"**/web/entities/Task/{first_id}")
        page.get_by_label("New note").fill("Hero shot: tighten the edges.")
        page.get_by_role("button", name="Add note").click()
        expect(page.get_by_text("Hero shot: tighten the edges.")).to_be_visible()
        notes = studio.query(f'select content from Note where parent_id is "{first_id}"')
        assert [n["content"] for n in notes] == ["Hero shot: tighten the edges."]

        # Review: the version's thumbnail loads; on its page the movie plays.
        page.goto(f"{studio.url}/web/projects/{crowd['project']}")
        page.get_by_role("link", name="Review").click()
        thumbnail = page.get_by_role("img", name=f"{crowd['hero']}_comp v1")
        thumbnail.scroll_into_view_if_needed()
        expect(thumbnail).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
        assert thumbnail.evaluate("img => img.naturalWidth") == 300
        thumbnail.click()
        page.wait_for_url(f"**/web/versions/{crowd['version']}")
        video = page.locator("video")
        video.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0", arg=video.element_handle(), timeout=10_000)
        assert video.evaluate("v => v.videoWidth") == 64 and video.evaluate("v => v.error") is None

        # Sign out: the sign-in page again, and the old cookie, which opened the project in
        # another browser a moment before, opens nothing now.
        stale = chromium.new_context()
        stale.add_cookies(context.cookies())
        old = stale.new_page()
        old.goto(f"{studio.url}/web/projects/{crowd['project']}")
        expect(old.get_by_label("Filter")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/web/signin")
        assert page.get_by_label("User name").is_visible()
        old.reload()
        old.wait_for_url("**/web/signin**")
        assert old.get_by_label("User name").is_visible() and old.get_by_label("Filter").count() == 0
    finally:
        context.close()
        if stale is not None:
            stale.close()
