"""Sign in once, sign out, personal tokens and expired sign-ins: the CLI, a Session and a real server on 127.0.0.1.

The sign-ins are kept in each test's own folder (FTRACK_LIKE_CONFIG_DIR): in the 0600 file
where no credential store is (tests/conftest.py names keyring's "none" backend), or in a
real keyring backend (keyring_backend.py, a store in a JSON file) where a test installs one.
"""

import io
import json
import os
import stat
import sys
import uuid

import keyring
import pytest
import requests
import sqlalchemy as sa
from keyring.backends import fail

from ftrack_like_api import AuthenticationError, CredentialStoreError, SessionExpiredError, signin
from ftrack_like_api.cli import main
from ftrack_like_api.session import Session

PASSWORD = "correct horse battery"


@pytest.fixture
def config(tmp_path, monkeypatch):
    """This test's config folder, and no FTRACK_* variables: what a new user's machine has."""
    monkeypatch.setenv("FTRACK_LIKE_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("FTRACK_SERVER", "FTRACK_API_USER", "FTRACK_API_KEY", "FTRACK_APIKEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "config"


@pytest.fixture
def keyring_file(tmp_path):
    """A real keyring backend (a store in a file) for this test; the no-store backend again after."""
    sys.path.insert(0, os.path.dirname(__file__))
    try:
        from keyring_backend import JsonFileKeyring
    finally:
        sys.path.remove(os.path.dirname(__file__))
    path = tmp_path / "keyring.json"
    keyring.set_keyring(JsonFileKeyring(path))
    yield path
    keyring.set_keyring(fail.Keyring())


def person(backend):
    name = f"p-{uuid.uuid4().hex[:8]}"
    backend.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": name}}], "admin")
    backend.auth.set_password(name, PASSWORD)
    return name


def login(server, name, monkeypatch, capsys, password=PASSWORD):
    monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
    code = main(["login", server, "--user", name, "--password-stdin"])
    return code, capsys.readouterr()


def works(server, token):
    return requests.post(f"{server}/api", json=[{"action": "query_server_information"}],
                         headers={"authorization": f"Bearer {token}"}).status_code  # fmt: skip


def test_login_then_a_plain_session_then_logout(server, backend, config, monkeypatch, capsys):
    name = person(backend)
    code, said = login(server, name, monkeypatch, capsys)
    assert code == 0, said.err
    assert f"signed in to {server} as {name}" in said.out and str(config / "credentials.json") in said.out
    kept = config / "credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    token = json.loads(kept.read_text())["servers"][server]["token"]  # no credential store: the file keeps it

    with Session(schema_cache_path=False) as session:  # nothing else: the server and user signed in to last
        assert session.server_url == server and session.api_user == name
        assert session.current_user["username"] == name
        assert session.ping() > 0

    assert main(["logout"]) == 0
    assert f"signed out of {server} ({name})" in capsys.readouterr().out
    assert works(server, token) == 401  # ended on the server
    assert json.loads(kept.read_text())["servers"] == {}  # and forgotten here
    with pytest.raises(ValueError, match="server_url"):
        Session(schema_cache_path=False)
    assert main(["logout"]) == 1
    assert "Not signed in anywhere" in capsys.readouterr().err


def test_a_session_made_before_logout_gets_a_clear_error_after(server, backend, config, monkeypatch, capsys):
    name = person(backend)
    login(server, name, monkeypatch, capsys)
    session = Session(schema_cache_path=False)
    session.ping()
    main(["logout", server])
    with pytest.raises(AuthenticationError, match="not accepted") as raised:
        session.query("User").first()
    assert raised.value.code == "invalid_credentials"
    # What to do, since the sign-in was the one `ftrack-like login` kept:
    assert str(raised.value).endswith(f"the sign-in kept for {server} has ended; sign in again (`ftrack-like login "
                                      f"{server}`)")  # fmt: skip


def test_a_wrong_password_is_one_line_and_nothing_is_kept(server, backend, config, monkeypatch, capsys):
    name = person(backend)
    code, said = login(server, name, monkeypatch, capsys, password="not the password")
    # The last line (the server, in this process, may log before it): one line saying why.
    assert code == 1 and said.err.splitlines()[-1] == "error: InvalidCredentialsError: The credentials were not accepted"
    assert not (config / "credentials.json").exists()
    with pytest.raises(AuthenticationError):
        signin(server, name, "not the password")


def test_a_url_without_a_scheme_says_to_add_it_before_asking_for_a_password(config, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("whatever\n"))
    assert main(["login", "studio.example:8000", "--user", "jo", "--password-stdin"]) == 1
    assert "add http:// or https://" in capsys.readouterr().err
    assert sys.stdin.read() == "whatever\n"  # not read: nothing was asked


def test_the_file_is_refused_when_others_may_read_it(server, backend, config, monkeypatch, capsys):
    login(server, person(backend), monkeypatch, capsys)
    (config / "credentials.json").chmod(0o644)
    with pytest.raises(CredentialStoreError, match="chmod 600"):
        Session(schema_cache_path=False)


def test_a_credential_store_keeps_the_token_and_the_file_only_who_and_where(server, backend, config, keyring_file,
                                                                          monkeypatch, capsys):  # fmt: skip
    name = person(backend)
    code, said = login(server, name, monkeypatch, capsys)
    assert code == 0 and "the credential store (JsonFileKeyring)" in said.out
    entry = json.loads((config / "credentials.json").read_text())["servers"][server]
    assert entry["where"] == "keyring" and "token" not in entry
    token = keyring.get_password("ftrack-like", server)
    assert works(server, token) == 200
    with Session(server_url=server, schema_cache_path=False) as session:
        assert session.current_user["username"] == name
    assert main(["logout", server]) == 0
    assert keyring.get_password("ftrack-like", server) is None
    assert works(server, token) == 401


def test_a_credential_store_in_another_process(server, backend, config, tmp_path, monkeypatch, ftrack_like):
    """The command as a user runs it, with a keyring backend chosen by the environment."""
    import subprocess

    name = person(backend)
    environment = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring_backend.JsonFileKeyring",
                   "KEYRING_FILE": str(tmp_path / "keyring.json"), "PYTHONPATH": os.path.dirname(__file__)}  # fmt: skip
    made = subprocess.run([ftrack_like, "login", server, "--user", name, "--password-stdin"], input=PASSWORD + "\n",
                          capture_output=True, text=True, env=environment)  # fmt: skip
    assert made.returncode == 0, made.stderr
    stored = json.loads((tmp_path / "keyring.json").read_text())
    assert list(stored) == [f"ftrack-like\n{server}"]
    assert works(server, stored[f"ftrack-like\n{server}"]) == 200


def test_arguments_and_variables_win_over_the_sign_in(server, backend, config, monkeypatch, capsys):
    login(server, person(backend), monkeypatch, capsys)
    key = backend.auth.create_key("admin", f"k-{uuid.uuid4().hex[:6]}")
    with Session(server_url=server, api_user="admin", api_key=key, schema_cache_path=False) as session:
        assert session.current_user["username"] == "admin"
    monkeypatch.setenv("FTRACK_API_USER", "admin")
    monkeypatch.setenv("FTRACK_API_KEY", key)
    with Session(server_url=server, schema_cache_path=False) as session:
        assert session.current_user["username"] == "admin"


def test_personal_tokens_work_wherever_a_key_does_and_stop_when_revoked(server, backend, config, monkeypatch, capsys):
    name = person(backend)
    login(server, name, monkeypatch, capsys)
    assert main(["token", "create", "--name", "laptop", "--expires", "90d"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with backend.engine.connect() as connection:  # kept hashed, never as it is
        kept = connection.execute(sa.text("select name, token_hash from personal_token")).all()
    assert ("laptop" in [row.name for row in kept]) and token not in [row.token_hash for row in kept]

    with Session(server_url=server, api_user=name, api_key=token, schema_cache_path=False) as session:
        assert session.current_user["username"] == name
    monkeypatch.setenv("FTRACK_API_USER", name)
    monkeypatch.setenv("FTRACK_API_KEY", token)
    with Session(server_url=server, schema_cache_path=False) as session:
        assert session.current_user["username"] == name
    with Session(server_url=server, token=token, api_user=name, schema_cache_path=False) as session:
        assert session.current_user["username"] == name  # as a bearer token too
    with pytest.raises(AuthenticationError):  # someone else's name with it
        Session(server_url=server, api_user="admin", api_key=token, schema_cache_path=False).ping()

    assert main(["token", "create", "--name", "laptop"]) == 1
    assert "named 'laptop' already" in capsys.readouterr().err
    assert main(["token", "list", "--server", server]) == 0
    listed = capsys.readouterr().out
    assert "laptop" in listed and "live" in listed and token not in listed

    assert main(["token", "revoke", "--name", "laptop"]) == 0
    with pytest.raises(AuthenticationError, match=r"personal token 'laptop' was revoked .*ftrack-like token create"):
        Session(server_url=server, api_user=name, api_key=token, schema_cache_path=False).ping()
    with pytest.raises(AuthenticationError, match="not accepted"):  # to anyone else, as any wrong credential
        Session(server_url=server, api_user="admin", api_key=token, schema_cache_path=False).ping()
    assert main(["token", "revoke", "--name", "laptop"]) == 1
    assert "no live personal token named 'laptop'" in capsys.readouterr().err


def test_only_a_person_signed_in_makes_tokens(server, backend, config):
    key = backend.auth.create_key("admin", f"k-{uuid.uuid4().hex[:6]}")
    answer = requests.post(f"{server}/tokens", json={"name": "x"}, headers={"ftrack-user": "admin", "ftrack-api-key": key})
    assert answer.status_code == 403 and "ftrack-like login" in answer.json()["content"]
    assert main(["token", "list"]) == 1  # nothing signed in here


def test_an_expired_personal_token_says_so(server, backend, config, monkeypatch, capsys):
    name = person(backend)
    login(server, name, monkeypatch, capsys)
    main(["token", "create", "--name", "short", "--expires", "1h"])
    token = capsys.readouterr().out.strip().splitlines()[-1]
    with backend.engine.begin() as connection:
        connection.execute(sa.text("update personal_token set expires_at = :past where name = 'short'"),
                           {"past": "2000-01-01 00:00:00"})  # fmt: skip
    with pytest.raises(AuthenticationError, match="'short' expired") as raised:
        Session(server_url=server, api_user=name, api_key=token, schema_cache_path=False).ping()
    assert raised.value.code == "token_expired"


def expire_sign_ins(backend, name):
    with backend.engine.begin() as connection:
        connection.execute(sa.text("update auth_token set expires_at = :past where user_id in "
                                   "(select id from resource where username = :name)"),
                           {"past": "2000-01-01 00:00:00", "name": name})  # fmt: skip


def test_an_expired_sign_in_is_a_session_expired_error(server, backend, config, monkeypatch, capsys):
    name = person(backend)
    login(server, name, monkeypatch, capsys)
    session = Session(schema_cache_path=False)
    session.ping()
    expire_sign_ins(backend, name)
    with pytest.raises(SessionExpiredError, match="sign in again") as raised:
        session.query("User").first()
    assert isinstance(raised.value, AuthenticationError) and raised.value.code == "session_expired"


def test_reauthenticate_signs_in_again_and_sends_once_more(server, backend, config, monkeypatch, capsys):
    from ftrack_like_api.account import login as sign_in

    name = person(backend)
    login(server, name, monkeypatch, capsys)
    asked = []

    def again(session):
        asked.append(session)
        return sign_in(session.server_url, session.api_user, PASSWORD)

    session = Session(schema_cache_path=False, reauthenticate=again)
    session.ping()
    expire_sign_ins(backend, name)
    assert session.query("User where username is :name", name=name).one()["username"] == name
    assert asked == [session]
    with Session(schema_cache_path=False) as later:  # login() kept the new sign-in for the next script too
        assert later.current_user["username"] == name

    expire_sign_ins(backend, name)
    refusing = Session(schema_cache_path=False, reauthenticate=lambda session: None)
    with pytest.raises(SessionExpiredError, match="gave no new token"):
        refusing.query("User").first()


OFFICIAL = """
import sys
import ftrack_api

server, user, token = sys.argv[1:4]
session = ftrack_api.Session(server_url=server, api_user=user, api_key=token, auto_connect_event_hub=False,
                             schema_cache_path=False)
print(session.query("User where username is '{}'".format(user)).one()["username"])
"""


def test_the_official_client_takes_a_personal_token_as_its_api_key(server, backend, config, official_python,
                                                                    monkeypatch, capsys):  # fmt: skip
    import subprocess

    name = person(backend)
    login(server, name, monkeypatch, capsys)
    main(["token", "create", "--name", "official"])
    token = capsys.readouterr().out.strip().splitlines()[-1]
    ran = subprocess.run([official_python, "-c", OFFICIAL, server, name, token], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip() == name
    main(["token", "revoke", "--name", "official"])
    refused = subprocess.run([official_python, "-c", OFFICIAL, server, name, token], capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert refused.returncode != 0 and "personal token 'official' was revoked" in refused.stderr


def test_the_how_to_page_runs_as_shown(server, backend, config, tmp_path, ftrack_like):
    """docs/howto/sign-in.rst: its commands (the password from standard input) and its Python, in order."""
    import pathlib
    import re
    import subprocess
    import textwrap

    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "howto" / "sign-in.rst").read_text()
    python = [textwrap.dedent(b) for b in re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", page)]
    consoles = re.findall(r"\.\. code-block:: console\n\n((?:    .*\n|\n)+)", page)
    commands = [[line.strip()[2:].replace("https://studio.example", server) for line in block.splitlines()
                 if line.strip().startswith("$ ")] for block in consoles]  # fmt: skip
    assert len(python) == 3 and [len(c) for c in commands] == [1, 3]
    name = person(backend)
    environment = {**os.environ, "FTRACK_LIKE_CONFIG_DIR": str(config)}

    def run(command, stdin=None):
        argv = command.split() if isinstance(command, str) else command
        made = subprocess.run([ftrack_like, *argv[1:]] if argv[0] == "ftrack-like" else argv, input=stdin,
                              capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120)  # fmt: skip
        assert made.returncode == 0, made.stderr
        return made.stdout

    said = run(commands[0][0].replace("--user jo", f"--user {name}") + " --password-stdin", PASSWORD + "\n")
    assert f"as {name}" in said
    assert run([sys.executable, "-c", python[0]]).splitlines()[0] == name
    run([sys.executable, "-c", python[1]])
    token = run(commands[1][0]).strip().splitlines()[-1]
    assert token.startswith("flpat_") and "laptop" in run(commands[1][1])
    environment.update(LAPTOP_TOKEN=token, STUDIO=server)
    assert run([sys.executable, "-c", python[2].replace('"jo"', repr(name))]).strip() == name
    run(commands[1][2])
    with pytest.raises(AuthenticationError):
        Session(server_url=server, api_user=name, api_key=token, schema_cache_path=False).ping()


def test_the_accsyn_page_runs_as_shown(server, backend, config, tmp_path, monkeypatch, capsys):
    """docs/howto/from-accsyn.rst's Python, signed in as a person who may create projects."""
    import pathlib
    import re
    import subprocess
    import textwrap

    name = person(backend)
    backend.auth.set_role(name, "admin")
    login(server, name, monkeypatch, capsys)
    page = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "howto" / "from-accsyn.rst").read_text()
    blocks = [textwrap.dedent(b) for b in re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", page)]
    assert len(blocks) == 2
    for block in blocks:
        ran = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "FTRACK_LIKE_CONFIG_DIR": str(config)})  # fmt: skip
        assert ran.returncode == 0, ran.stderr


def test_a_locked_credential_store_is_one_clear_error(server, backend, config, keyring_file, monkeypatch, capsys):
    from keyring_backend import LockedKeyring

    name = person(backend)
    login(server, name, monkeypatch, capsys)
    keyring.set_keyring(LockedKeyring())  # the desktop locked its keyring since
    with pytest.raises(CredentialStoreError, match=r"could not be read: the collection is locked \(unlock it"):
        Session(schema_cache_path=False)
    code, said = login(server, name, monkeypatch, capsys)
    assert code == 1 and "refused the token: the collection is locked (is it locked?)" in said.err


def test_logout_with_the_server_gone_forgets_here_and_says_so(server, backend, config, monkeypatch, capsys, unused_port):
    from ftrack_like_api.credential_store import CredentialStore, SignedIn

    gone = f"http://127.0.0.1:{unused_port}"
    CredentialStore().save(SignedIn(gone, "jo", "a-token-of-a-server-that-is-gone"))
    assert main(["logout", gone]) == 1
    assert "the sign-in is forgotten here" in capsys.readouterr().err
    assert CredentialStore().load(gone) is None


def test_nothing_typed_is_one_clear_line_not_a_traceback(server, config, monkeypatch, capsys):
    """A script that runs `ftrack-like login` with nothing on standard input: what to give, not EOFError."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["login", server]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "error: No user name: give --user NAME"
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["login", server, "--user", "jo", "--password-stdin"]) == 1
    assert "No password on standard input" in capsys.readouterr().err
    assert not (config / "credentials.json").exists()


@pytest.mark.parametrize("text", ['{"servers": {"http://x": ', "[1, 2]", '{"servers": [], "default": null}',
                                  '{"servers": {"http://x": {"token": "t"}}, "default": "http://x"}',
                                  '{"servers": {"http://x": {"username": "jo", "token": 5}}, "default": "http://x"}'])
def test_a_credentials_file_that_is_not_ours_is_one_clear_error(config, text, capsys):
    """Cut short, edited by hand, written by something else: said, not taken for 'not signed in' nor a bug."""
    config.mkdir(parents=True)
    kept = config / "credentials.json"
    kept.write_text(text)
    kept.chmod(0o600)
    with pytest.raises(CredentialStoreError, match="is not what `ftrack-like login` wrote: delete it"):
        Session(schema_cache_path=False)
    assert main(["query", "User"]) == 1
    assert "is not what `ftrack-like login` wrote" in capsys.readouterr().err
