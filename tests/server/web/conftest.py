"""A studio served for the web page's tests: the demo production, people with passwords, a freelancer, hostile names.

One per database (the ``database`` fixture runs each module on SQLite and on PostgreSQL);
``web`` signs a ``requests`` session in as someone, as a browser would (cookies, forms).
"""

import re
import uuid

import pytest

pytest.importorskip("jinja2", reason="the server extra is not installed")

import requests  # noqa: E402

from ftrack_like_api import Session  # noqa: E402
from ftrack_like_api.demo import build_production  # noqa: E402
from ftrack_like_api.server import Backend  # noqa: E402
from ftrack_like_api.transport.local import LocalTransport  # noqa: E402

PASSWORD = "correct horse battery"
#: Names a hostile user might give: each must show as text.
HOSTILE_SHOT = "<script>window.pwned=1</script>"
HOSTILE_TASK = '"><img src=x onerror="window.pwned=2">'
#: Tasks of the big project: more than a page.
BIG = 130


class Studio:
    """What a test needs of the served studio."""

    def __init__(self, backend, url, made, other_project, hostile_task):
        self.backend, self.url = backend, url
        self.project = made["project"]["id"]
        self.shots = [shot["id"] for shot in made["shots"]]
        self.other_project = other_project
        self.hostile_task = hostile_task
        self.big = made["big"]

    def call(self, *operations, user="admin"):
        answer = self.backend.execute(list(operations), user)
        assert isinstance(answer, list), answer
        return answer

    def query(self, expression, user="admin"):
        return self.call({"action": "query", "expression": expression}, user=user)[0]["data"]


def build(database):
    """The demo production, a second project, hostile names, and people: admin, coord (a user), free (a freelancer)."""
    with LocalTransport(database, "admin") as transport:
        session = Session(server_url="http://local", api_user="admin", api_key="local", transport=transport,
                          auto_connect_event_hub=False)
        made = build_production(session)
        session.commit()
        other = session.create("Project", {"name": "side", "full_name": "Side Project",
                                           "project_schema": session.query('ProjectSchema where name is "VFX"').one()})
        sequence = session.create("Sequence", {"name": "sq900", "parent": other})
        shot = session.create("Shot", {"name": HOSTILE_SHOT, "parent": sequence})
        task_type = session.query('Type where name is "Compositing"').one()
        hostile = session.create("Task", {"name": HOSTILE_TASK, "parent": shot, "type": task_type})
        big = session.create("Project", {"name": "big", "full_name": "Big Project",
                                         "project_schema": session.query('ProjectSchema where name is "VFX"').one()})
        big_shot = session.create("Shot", {"name": "sh001", "parent": session.create("Sequence", {"name": "sq001", "parent": big})})
        for number in range(BIG):
            session.create("Task", {"name": f"task{number:03d}", "parent": big_shot, "type": task_type})
        session.create("User", {"username": "coord", "first_name": "Coordinator"})
        session.create("User", {"username": "free", "first_name": "Freelancer"})
        session.commit()
        made["project"] = {"id": made["project"]["id"]}
        made["shots"] = [{"id": s["id"]} for s in made["shots"]]
        made["big"] = big["id"]
        return made, other["id"], hostile["id"]


@pytest.fixture(scope="module")
def studio(database, tmp_path_factory):
    from ftrack_like_api.server.app import create_app, serving

    made, other, hostile = build(database)
    backend = Backend.from_url(database)
    backend.files.configure(tmp_path_factory.mktemp("files"))
    for username in ("admin", "coord", "free", "jo"):
        backend.auth.set_password(username, PASSWORD)
    backend.auth.grant("free", other)  # the freelancer works on the side project only
    try:
        with serving(create_app(backend)) as url:
            yield Studio(backend, url, made, other, hostile)
    finally:
        backend.close()


def sign_in(url, username, password=PASSWORD, token=None):
    """A ``requests`` session signed in through the form, as a browser is."""
    browser = requests.Session()
    browser.trust_env = False
    page = browser.get(f"{url}/web/signin")
    assert page.status_code == 200
    answer = browser.post(f"{url}/web/signin", data={"username": username, "password": password or "",
                                                      "token": token or ""}, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return browser


def csrf_of(html):
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


@pytest.fixture(scope="module")
def web(studio):
    """``web("coord")``: a signed-in browser-like session (made once per user and module)."""
    made = {}

    def signed_in(username="admin"):
        if username not in made:
            made[username] = sign_in(studio.url, username)
        return made[username]

    return signed_in


def new_id():
    return str(uuid.uuid4())


def chromium_path():
    """Debian's chromium (``apt-get install chromium``), the browser the tests drive; None when it is not installed."""
    import os
    import shutil

    for candidate in (os.environ.get("FTRACK_LIKE_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium through Playwright for Python: in CI a missing browser fails, elsewhere skips."""
    import os

    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = ("Playwright for Python is not installed (the test extra)" if sync_playwright is None
               else None if path else "chromium is not installed (apt-get install chromium; .ci/run does)")  # fmt: skip
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
