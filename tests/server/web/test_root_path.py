"""The web page under a path prefix (``serve --root-path /tracker``, behind a proxy that strips it): every link,
redirect and the cookie carry the prefix."""

import re
import threading
import time

import pytest
import requests

from ftrack_like_api.server.app import create_app, listening_socket

from .conftest import PASSWORD


@pytest.fixture(scope="module")
def prefixed(studio):
    """The studio's backend served by uvicorn with ``root_path="/tracker"``, as ``serve --root-path`` runs it: its URL."""
    import uvicorn

    sock = listening_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(studio.backend), log_level="warning", root_path="/tracker",
                                           lifespan="on", timeout_graceful_shutdown=1))  # fmt: skip
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"  # what the proxy forwards to: the prefix stripped
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_links_redirects_and_the_cookie_carry_the_prefix(prefixed, studio):
    browser = requests.Session()
    front = browser.get(f"{prefixed}/", allow_redirects=False)
    assert front.status_code == 200 and 'action="/tracker/web/signin"' in front.text
    assert re.search(r'src="/tracker/web/static/[0-9a-f]+/web.js"', front.text)
    signed = browser.post(f"{prefixed}/web/signin", data={"username": "coord", "password": PASSWORD}, allow_redirects=False)
    assert signed.headers["location"] == "/tracker/web/projects"
    assert "Path=/tracker" in signed.headers["set-cookie"]
    projects = browser.get(f"{prefixed}/web/projects", cookies={"ftrack_like_session": browser.cookies["ftrack_like_session"]})
    assert f'href="/tracker/web/projects/{studio.project}"' in projects.text
    stranger = requests.get(f"{prefixed}/web/my-tasks", allow_redirects=False)
    assert stranger.headers["location"] == "/tracker/web/signin?next=/web/my-tasks"
