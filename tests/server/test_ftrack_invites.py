"""ftrack's invitations by mail: sent through a real SMTP server when one is configured, refused otherwise."""

import json
import socket
import ssl
import subprocess
import urllib.request

import pytest

from ftrack_like_api.server.mail import MAIL_VARIABLE, settings_from_url
from ftrack_like_api.server.protocols.ftrack.invites import register


class Inbox:
    """What a real SMTP server (aiosmtpd, on 127.0.0.1) received, and who signed in to it."""

    def __init__(self):
        self.messages, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):
        import email

        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 taking AUTH PLAIN (user "mailer", password "p@ss"): (its port, its inbox)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, data):
        inbox.logins.append(data.login.decode())
        return AuthResult(success=(data.login, data.password) == (b"mailer", b"p@ss"), handled=False)

    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=authenticate,
                            auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])  # fmt: skip
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def post(url, key, *operations):
    request = urllib.request.Request(f"{url}/api", data=json.dumps(list(operations)).encode(), method="POST",
                                     headers={"ftrack-user": "admin", "ftrack-api-key": key,
                                              "content-type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


@pytest.fixture
def mailing_server(backend, monkeypatch, smtp):
    """A real server started with FTRACK_LIKE_SMTP naming ``smtp`` (as ``serve --smtp`` does): its URL."""
    from ftrack_like_api.server.app import create_app, serving

    port, _ = smtp
    monkeypatch.setenv(MAIL_VARIABLE, f"smtp://mailer:p%40ss@127.0.0.1:{port}?from=tracker@studio.test")
    try:
        with serving(create_app(backend)) as url:
            yield url
    finally:
        monkeypatch.delenv(MAIL_VARIABLE)
        register(backend)  # the other tests' backend sends no mail again


def test_without_a_mail_server_an_invitation_is_refused_with_what_to_do_and_nothing_changes(backend, call, monkeypatch):
    monkeypatch.delenv(MAIL_VARIABLE, raising=False)
    register(backend)  # as create_app does
    user = call.create("User", username="invited")["id"]
    error = call.error({"action": "send_user_invite", "user_id": user})
    assert error["error_code"] == "not_supported" and "sends no mail" in error["content"]
    assert "--smtp" in error["content"] and "ftrack-like user password" in error["content"]
    error = call.error({"action": "send_review_session_invite", "review_session_invitee_id": "someone"})
    assert error["error_code"] == "not_supported" and "link yourself" in error["content"]
    assert [row["username"] for row in call.query(f"select username from User where id is {user}")] == ["invited"]


def test_a_user_invitation_is_mailed_with_the_user_name_and_the_sign_in_link(call, admin_key, smtp, mailing_server):
    _, inbox = smtp
    user = call.create("User", username="artist", email="artist@studio.test", first_name="Ada")["id"]
    answer = post(mailing_server, admin_key, {"action": "send_user_invite", "user_id": user})
    assert answer[0]["data"]["email"] == "artist@studio.test", answer
    [(to, message)] = inbox.messages
    assert to == ["artist@studio.test"] and message["From"] == "tracker@studio.test"
    assert message["Subject"] == "You are invited to the studio's tracker" and inbox.logins == ["mailer"]
    text = message.get_payload(decode=True).decode()
    assert "Hello Ada" in text and "Your user name: artist" in text and f"Sign in: {mailing_server}/web/signin" in text


def test_a_review_invitation_is_mailed_with_the_sessions_link_and_noted_as_sent(call, admin_key, smtp, mailing_server):
    _, inbox = smtp
    schema = call.query('ProjectSchema where name is "VFX"')[0]["id"]
    project = call.create("Project", name="invites", project_schema_id=schema)["id"]
    review = call.create("ReviewSession", name="Weekly review", description="See updates from last week.",
                         project_id=project)["id"]  # fmt: skip
    invitee = call.create("ReviewSessionInvitee", name="John Doe", email="john.doe@client.test", review_session_id=review)["id"]
    answer = post(mailing_server, admin_key, {"action": "send_review_session_invite", "review_session_invitee_id": invitee})
    assert answer[0]["data"]["email"] == "john.doe@client.test", answer
    [(to, message)] = inbox.messages
    assert to == ["john.doe@client.test"] and message["Subject"] == "Review session: Weekly review"
    text = message.get_payload(decode=True).decode()
    assert "Hello John Doe" in text and "See updates from last week." in text
    assert f"Review: {mailing_server}/web/projects/{project}/review" in text
    sent = call.query(f"select last_sent_at from ReviewSessionInvitee where id is {invitee}")[0]["last_sent_at"]
    assert sent is not None


def test_a_mail_server_that_refuses_the_password_is_one_clear_error(backend, call, admin_key, smtp, monkeypatch):
    port, inbox = smtp
    monkeypatch.setenv(MAIL_VARIABLE, f"smtp://mailer:wrong@127.0.0.1:{port}")
    register(backend)
    try:
        user = call.create("User", username="refused", email="refused@studio.test")["id"]
        error = call.error({"action": "send_user_invite", "user_id": user})
        assert error["error_code"] == "mail_failed" and "refused the user name and password" in error["content"]
        error = call.error({"action": "send_user_invite", "user_id": "no-such-user"})
        assert error["error_code"] == "not_found"
    finally:
        monkeypatch.delenv(MAIL_VARIABLE)
        register(backend)
    assert inbox.messages == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate, key)."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    certificate, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)  # fmt: skip
    return certificate, key


@pytest.mark.parametrize("scheme", ["smtp+starttls", "smtps"])
def test_mail_goes_over_tls_verified_against_the_ca_the_url_names(backend, call, certificate, monkeypatch, scheme):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, data):
        inbox.logins.append(data.login.decode())
        return AuthResult(success=data.password == b"pw", handled=False)

    port = free_port()
    # aiosmtpd counts only STARTTLS as TLS for AUTH: over smtps the connection is TLS from the start all the same.
    tls = ({"tls_context": context, "require_starttls": True} if scheme == "smtp+starttls"
           else {"ssl_context": context, "auth_require_tls": False})  # fmt: skip
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_exclude_mechanism=["LOGIN"], **tls)  # fmt: skip
    controller.start()
    monkeypatch.setenv(MAIL_VARIABLE, f"{scheme}://mailer:pw@127.0.0.1:{port}?cafile={certificate[0]}")
    register(backend)
    try:
        user = call.create("User", username=f"tls-{scheme}", email="tls@studio.test")["id"]
        assert call({"action": "send_user_invite", "user_id": user})[0]["data"]["email"] == "tls@studio.test"
        monkeypatch.setenv(MAIL_VARIABLE, f"{scheme}://mailer:pw@127.0.0.1:{port}")  # the system's CAs only
        register(backend)
        error = call.error({"action": "send_user_invite", "user_id": user})
        assert error["error_code"] == "mail_failed" and "CERTIFICATE_VERIFY_FAILED" in error["content"]
    finally:
        controller.stop()
        monkeypatch.delenv(MAIL_VARIABLE)
        register(backend)
    assert [to for to, _ in inbox.messages] == [["tls@studio.test"]] and inbox.logins == ["mailer"]


@pytest.mark.parametrize("url, expected", [
    ("smtp://relay.studio", ("relay.studio", 25, "plain", None)),
    ("smtp+starttls://me:s%2Fcret@mail.studio?from=t@studio", ("mail.studio", 587, "starttls", "me")),
    ("smtps://me:pw@mail.studio:2465", ("mail.studio", 2465, "ssl", "me")),
])  # fmt: skip
def test_an_smtp_url_says_where_and_how(url, expected):
    settings = settings_from_url(url)
    assert (settings.host, settings.port, settings.security, settings.username) == expected


@pytest.mark.parametrize("url, said", [("http://mail", "is not an SMTP URL"), ("smtp://", "names no host"),
                                       ("smtps://me@mail", "no password"), ("smtp://mail?from=nobody", "not a mail address"),
                                       ("smtps://me:pw@mail?cafile=/no/such.pem", "does not exist")])
def test_a_wrong_smtp_url_says_what_is_wrong(url, said):
    with pytest.raises(ValueError, match=said):
        settings_from_url(url)


def test_serve_refuses_a_wrong_smtp_url_before_it_starts(tmp_path, monkeypatch, capsys):
    from ftrack_like_api.cli import main

    database = f"sqlite:///{tmp_path / 'studio.db'}"
    assert main(["serve", "--smtp", "smtp//mail", "--database", database]) == 1
    assert "--smtp: 'smtp//mail' is not an SMTP URL" in capsys.readouterr().err
    monkeypatch.setenv(MAIL_VARIABLE, "smtps://me@mail")
    assert main(["serve", "--database", database]) == 1
    assert f"{MAIL_VARIABLE}: 'smtps://me@mail' names a user but no password" in capsys.readouterr().err
