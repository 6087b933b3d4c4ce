"""Signing in and out of the web page over real HTTP: forms, the cookie, personal tokens, what never shows."""

import logging

import requests

from .conftest import PASSWORD, csrf_of, sign_in


def test_the_front_door_is_the_sign_in_page_with_its_labels(studio):
    page = requests.get(f"{studio.url}/")
    assert page.status_code == 200
    for label in ('<label for="username">User name</label>', '<label for="password">Password</label>',
                  '<button type="submit">Sign in</button>'):
        assert label in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "<script>" not in page.text  # no inline script anywhere: only the static file
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_api_routes_are_still_there_beside_the_pages(studio):
    assert requests.get(f"{studio.url}/health").json() == {"status": "alive"}
    answer = requests.post(f"{studio.url}/api", json=[{"action": "query_server_information"}])
    assert answer.status_code in (200, 401) and answer.headers["content-type"].startswith("application/json")


def test_a_page_sends_a_stranger_to_sign_in_and_back_afterwards(studio):
    browser = requests.Session()
    answer = browser.get(f"{studio.url}/web/projects/{studio.project}?filter=name", allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/web/signin?next=")
    form = browser.get(studio.url + answer.headers["location"])
    assert 'name="next" value="/web/projects/' in form.text
    signed = browser.post(f"{studio.url}/web/signin", data={"username": "coord", "password": PASSWORD,
                                                            "next": f"/web/projects/{studio.project}?filter=name"},
                          allow_redirects=False)  # fmt: skip
    assert signed.headers["location"] == f"/web/projects/{studio.project}?filter=name"
    # Only a path of this site: never somewhere else.
    elsewhere = requests.post(f"{studio.url}/web/signin", data={"username": "coord", "password": PASSWORD,
                                                                "next": "//evil.example/"}, allow_redirects=False)
    assert elsewhere.headers["location"] == "/web/projects"


def test_signing_in_sets_an_http_only_same_site_cookie_and_never_shows_the_password(studio, caplog):
    caplog.set_level(logging.INFO)
    browser = requests.Session()
    answer = browser.post(f"{studio.url}/web/signin", data={"username": "coord", "password": PASSWORD},
                          allow_redirects=False)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS adds it (the proxy test)
    projects = browser.get(f"{studio.url}/web/projects")
    assert projects.status_code == 200 and "coord" in projects.text
    token = browser.cookies.get("ftrack_like_session")
    for text in (projects.text, caplog.text):
        assert PASSWORD not in text and token not in text


def test_a_wrong_password_is_refused_with_the_same_words_for_anyone(studio):
    wrong = requests.post(f"{studio.url}/web/signin", data={"username": "coord", "password": "nope nope"})
    nobody = requests.post(f"{studio.url}/web/signin", data={"username": "nobody", "password": "nope nope"})
    assert wrong.status_code == nobody.status_code == 401
    assert "The credentials were not accepted" in wrong.text and "The credentials were not accepted" in nobody.text
    assert "set-cookie" not in wrong.headers
    assert 'value="coord"' in wrong.text and "nope nope" not in wrong.text


def test_signing_in_with_a_personal_token_keeps_the_token_out_of_the_cookie(studio):
    user_id = studio.query('User where username is "coord"')[0]["id"]
    secret, _ = studio.backend.auth.create_personal_token(user_id, "web-test")
    browser = sign_in(studio.url, "coord", password=None, token=secret)
    assert browser.cookies.get("ftrack_like_session") != secret
    assert browser.get(f"{studio.url}/web/my-tasks").status_code == 200
    refused = requests.post(f"{studio.url}/web/signin", data={"username": "coord", "token": "flpat_wrong"})
    assert refused.status_code == 401


def test_signing_out_ends_the_session_for_good(studio):
    browser = sign_in(studio.url, "coord")
    token = browser.cookies.get("ftrack_like_session")
    page = browser.get(f"{studio.url}/web/projects")
    out = browser.post(f"{studio.url}/web/signout", data={"csrf": csrf_of(page.text)}, allow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/web/signin"
    assert 'ftrack_like_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    # The old cookie, kept by someone, opens nothing any more.
    replay = requests.get(f"{studio.url}/web/projects", cookies={"ftrack_like_session": token}, allow_redirects=False)
    assert replay.status_code == 303


def test_sign_out_without_its_csrf_token_does_nothing(studio):
    browser = sign_in(studio.url, "coord")
    refused = browser.post(f"{studio.url}/web/signout", data={}, allow_redirects=False)
    assert refused.status_code == 403
    assert browser.get(f"{studio.url}/web/projects", allow_redirects=False).status_code == 200


def test_the_cookie_is_secure_when_the_page_came_over_https(studio):
    # A proxy on this machine that ended TLS says so (uvicorn believes 127.0.0.1's X-Forwarded-Proto).
    answer = requests.post(f"{studio.url}/web/signin", data={"username": "coord", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"}, allow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]
