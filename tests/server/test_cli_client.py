"""The command line as a client: which studio and which user, said first; never a silent fallback.

A real server on 127.0.0.1, real sign-ins kept in the test's own config folder.
"""

import io
import subprocess
import sys
import uuid

import pytest

from ftrack_like_api.cli import main
from ftrack_like_api.version import __version__

PASSWORD = "correct horse battery"


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """A machine where nothing names a studio: no FTRACK_* variables, no sign-in, no FTRACK_LIKE_DATABASE."""
    monkeypatch.setenv("FTRACK_LIKE_CONFIG_DIR", str(tmp_path / "config"))
    for name in ("FTRACK_SERVER", "FTRACK_API_USER", "FTRACK_API_KEY", "FTRACK_APIKEY", "FTRACK_LIKE_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def signed_in(server, backend, nowhere, monkeypatch, capsys):
    """A new user with a password, signed in with ``ftrack-like login``: their name."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    backend.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": name}}], "admin")
    backend.auth.set_password(name, PASSWORD)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["login", server, "--user", name, "--password-stdin"]) == 0
    capsys.readouterr()
    return name


def test_nothing_named_is_refused_saying_how_to_name_a_studio(nowhere, capsys):
    for command in (["query", "User"], ["events", "parked"], ["download", "x"]):
        assert main(command) == 1
        assert "No studio named: sign in (`ftrack-like login" in capsys.readouterr().err
    assert not (nowhere / "data").exists()


def test_query_acts_as_the_signed_in_user_over_http_with_nested_columns(server, backend, signed_in, capsys):
    name = f"p{uuid.uuid4().hex[:6]}"
    schema = backend.execute([{"action": "query", "expression": "select name from ProjectSchema"}], "admin")[0]["data"][0]
    backend.execute([{"action": "create", "entity_type": "Project",
                      "entity_data": {"name": name, "full_name": name, "project_schema_id": schema["id"]}}], "admin")  # fmt: skip
    assert main(["query", f'select name, project_schema.name from Project where name is "{name}"']) == 0
    said = capsys.readouterr()
    assert said.err.splitlines()[0] == f"studio: {server} as {signed_in}"
    header, row = (line.split() for line in said.out.splitlines()[:2])
    shown = dict(zip(header, row))  # (no value here holds a space)
    assert shown["name"] == name and shown["project_schema.name"] == schema["name"]


def test_a_server_without_its_scheme_says_to_add_it(nowhere, capsys):
    assert main(["query", "User", "--server", "studio.example:8000"]) == 1
    assert "add http:// or https://" in capsys.readouterr().err


def test_the_shell_on_a_server_is_the_signed_in_user_not_admin(server, signed_in, ftrack_like):
    shell = subprocess.run([ftrack_like, "shell", "--server", server], input="print('as', session.api_user)\n",
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    assert f"as {signed_in}" in shell.stdout and f"studio: {server} as {signed_in}" in shell.stderr


def test_version_and_user_enable(fresh_database, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0 and capsys.readouterr().out.strip() == f"ftrack-like {__version__}"
    assert main(["user", "add", "jo", "--database", fresh_database]) == 0
    assert main(["user", "disable", "jo", "--database", fresh_database]) == 0
    assert main(["user", "enable", "jo", "--database", fresh_database]) == 0
    assert "user jo enabled" in capsys.readouterr().out
    main(["user", "list", "--database", fresh_database])
    assert next(line for line in capsys.readouterr().out.splitlines() if line.startswith("jo ")).split()[2] == "active"
    assert main(["user", "enable", "nobody", "--database", fresh_database]) == 1


def test_a_malformed_database_url_is_the_users_mistake_and_no_password_is_shown(capsys):
    assert main(["init", "--database", "sqlite:/bad"]) == 1
    assert capsys.readouterr().err.startswith("error: 'sqlite:/bad' is not a database URL (")
    assert main(["upgrade", "--database", "postgresql://jo:secret@:notaport/studio"]) == 1
    err = capsys.readouterr().err
    assert "is not a database URL" in err and "secret" not in err and "a bug" not in err


def test_a_session_url_without_a_scheme_says_to_add_it():
    from ftrack_like_api.session import Session

    with pytest.raises(ValueError, match=r"needs its scheme: http:// or https:// for a server \(https://studio.example:8000\)"):
        Session(server_url="studio.example:8000", api_user="jo", api_key="k")
    with pytest.raises(ValueError, match="mysql:// is not a studio this client reaches"):
        Session(server_url="mysql://db/studio", api_user="jo")


BLOCKED = """
import sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # as if not installed: importing it fails
from ftrack_like_api import Session
try:
    Session(server_url=sys.argv[1], api_user="admin", schema_cache_path=False).query("User").first()
except Exception as error:
    print(type(error).__name__, error)
"""


@pytest.mark.parametrize(("url", "blocked", "said"), [
    ("sqlite:///{tmp}/x.db", ["sqlalchemy"], "needs the server extra (sqlalchemy is not installed): pip install "
                                             "'ftrack-like-api[server]'"),
    ("postgresql://postgres@127.0.0.1:5432/x", ["psycopg", "psycopg2"], "pip install 'ftrack-like-api[postgres]'"),
])  # fmt: skip
def test_a_missing_extra_is_named(tmp_path, url, blocked, said):
    ran = subprocess.run([sys.executable, "-c", BLOCKED, url.format(tmp=tmp_path), *blocked], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("DatabaseError ") and said in ran.stdout, ran.stdout


def test_admin_commands_over_http_are_for_administrators_only(server, backend, signed_in, capsys, monkeypatch):
    assert main(["user", "list"]) == 1  # signed in as a plain user
    said = capsys.readouterr()
    assert said.err.splitlines()[0] == f"studio: {server} as {signed_in}"
    assert "Only administrators run `ftrack-like user` and `key` commands" in said.err

    backend.auth.set_role(signed_in, "admin")
    name = f"u-{uuid.uuid4().hex[:6]}"
    assert main(["user", "add", name, "--role", "read-only"]) == 0
    assert main(["user", "list"]) == 0
    listed = capsys.readouterr().out
    assert next(line for line in listed.splitlines() if line.startswith(name + " ")).split()[1] == "read-only"
    assert main(["key", "create", "--user", name, "--name", "nightly"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    monkeypatch.setenv("FTRACK_API_USER", name)
    monkeypatch.setenv("FTRACK_API_KEY", key)
    assert main(["query", "select username from User where username is " + f'"{name}"', "--server", server]) == 0
    assert name in capsys.readouterr().out
    monkeypatch.delenv("FTRACK_API_USER")
    monkeypatch.delenv("FTRACK_API_KEY")
    assert main(["key", "list", "--user", name]) == 0 and "nightly" in capsys.readouterr().out
    assert main(["key", "revoke", "--user", name, "--name", "nightly"]) == 0
    assert main(["user", "disable", name]) == 0 and main(["user", "enable", name]) == 0
    assert main(["user", "role", "nobody-at-all", "user"]) == 1
    assert "No user 'nobody-at-all'" in capsys.readouterr().err


def test_query_explain_over_http_shows_the_servers_sql_and_plan_to_administrators(server, backend, signed_in, capsys):
    expression = 'select name, status.name from Task where status.name is "Done" limit 3'
    assert main(["query", "--explain", expression]) == 1  # signed in as a plain user
    said = capsys.readouterr()
    assert said.err.splitlines()[0] == f"studio: {server} as {signed_in}"
    assert "Only administrators see the SQL and the plan of a query" in said.err
    assert main(["query", expression]) == 0  # the query itself, for anyone

    backend.auth.set_role(signed_in, "admin")
    capsys.readouterr()
    assert main(["query", "--explain", expression]) == 0
    out = capsys.readouterr().out
    assert "FROM status" in out and "-- plan:" in out and out.rstrip().endswith(("row)", "rows)"))
    dialect = backend.engine.dialect.name
    plan = [line for line in out.splitlines() if line.startswith("--   ")]
    assert plan and any(("SCAN" in line or "SEARCH" in line) if dialect == "sqlite" else "Scan" in line for line in plan)
    assert main(["query", "--explain", "select name from Task where"]) == 1  # the query's own error, as without
    assert "Task where" in capsys.readouterr().err


def test_explain_refuses_what_is_not_a_query_and_anyone_not_signed_in(server, backend, admin_key):
    import requests

    admin = {"ftrack-user": "admin", "ftrack-api-key": admin_key}
    for body in (b"", b"[1]", b'{"expression": 5}', b"not json"):
        answer = requests.post(f"{server}/admin/explain", data=body, headers=admin)
        assert answer.status_code == 400 and "expression" in answer.json()["content"], body
    answer = requests.post(f"{server}/admin/explain", json={"expression": "Task"}, headers={"ftrack-user": "admin",
                                                                                           "ftrack-api-key": "wrong"})  # fmt: skip
    assert answer.status_code == 401
    answer = requests.post(f"{server}/admin/explain", json={"expression": "Task"}, headers=admin)
    assert answer.status_code == 200 and answer.json()["statements"]


def test_a_server_with_no_credentials_for_it_says_to_sign_in_there(server, nowhere, capsys):
    """Nothing kept for this server, no FTRACK_API_*: the error names the command that fixes it."""
    from ftrack_like_api.session import Session

    with pytest.raises(ValueError, match=rf"needs api_user and api_key .*`ftrack-like login {server}`"):
        Session(server_url=server, schema_cache_path=False)
    with pytest.raises(ValueError, match=rf"`ftrack-like login {server} --user jo`"):
        Session(server_url=server, api_user="jo", schema_cache_path=False)
    assert main(["user", "list", "--server", server]) == 1
    assert f"`ftrack-like login {server}`" in capsys.readouterr().err
