"""``ftrack-like`` on a client-only install (``pip install ftrack-like-api``, no extras) against a server.

Each command runs in its own interpreter in which the server extra's packages cannot be
imported (as if not installed); the server is a real one on 127.0.0.1, run by this test's
process. The client commands work; the server's say which extra they need.
"""

import os
import subprocess
import sys
import uuid

import pytest

PASSWORD = "correct horse battery"

#: The server extra's packages (and what only they bring), none importable in the client's interpreter.
SERVER_ONLY = ["sqlalchemy", "starlette", "uvicorn", "alembic", "websockets", "PIL", "prometheus_client", "psycopg",
               "psycopg2", "anyio", "boto3"]  # fmt: skip

CLIENT_ONLY = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # as if not installed: importing it fails
from ftrack_like_api.cli import main
code = main(sys.argv[1:])
loaded = sorted(name for name in sys.modules if name.startswith("ftrack_like_api.server"))
if loaded:
    print("server modules loaded:", loaded, file=sys.stderr)
    code = code or 99
sys.exit(code)
""".format(blocked=SERVER_ONLY)


@pytest.fixture
def client_only(tmp_path):
    """``run(*arguments, stdin=None)``: ftrack-like in a client-only interpreter, a config folder of its own."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("FTRACK_SERVER", "FTRACK_API", "FTRACK_LIKE"))}  # fmt: skip
    environment["FTRACK_LIKE_CONFIG_DIR"] = str(tmp_path / "config")
    environment["XDG_DATA_HOME"] = str(tmp_path / "data")

    def run(*arguments, stdin=None):
        return subprocess.run([sys.executable, "-c", CLIENT_ONLY, *arguments], input=stdin, capture_output=True,
                              text=True, env=environment, cwd=tmp_path, timeout=120)  # fmt: skip

    return run


def test_a_client_only_install_signs_in_queries_makes_tokens_and_signs_out(server, backend, client_only, tmp_path):
    name = f"p-{uuid.uuid4().hex[:8]}"
    backend.execute([{"action": "create", "entity_type": "User", "entity_data": {"username": name}}], "admin")
    backend.auth.set_password(name, PASSWORD)
    backend.auth.set_role(name, "admin")

    def ok(*arguments, stdin=None):
        ran = client_only(*arguments, stdin=stdin)
        assert ran.returncode == 0, (arguments, ran.stderr)
        return ran

    assert "login" in ok("--help").stdout and "serve" in ok("--help").stdout
    assert f"as {name}" in ok("login", server, "--user", name, "--password-stdin", stdin=PASSWORD + "\n").stdout
    queried = ok("query", f'select username, first_name from User where username is "{name}"')
    assert queried.stderr.splitlines()[0] == f"studio: {server} as {name}" and name in queried.stdout
    explained = ok("query", "--explain", "select username from User")
    assert "-- plan:" in explained.stdout and "FROM" in explained.stdout  # the server's SQL and plan, for an administrator
    token = ok("token", "create", "--name", "laptop").stdout.strip().splitlines()[-1]
    assert token.startswith("flpat_") and "laptop" in ok("token", "list").stdout
    assert name in ok("user", "list").stdout  # an administrator's command, over HTTP
    ok("token", "revoke", "--name", "laptop")
    assert f"signed out of {server}" in ok("logout").stdout
    refused = client_only("query", "User")
    assert refused.returncode == 1 and "No studio named" in refused.stderr
    assert not (tmp_path / "data").exists()  # no local studio made on the way


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["init"], ["demo"], ["backup", "x"]])
def test_the_servers_commands_name_the_extra_on_a_client_only_install(client_only, command):
    ran = client_only(*command)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr
    assert ran.stderr.strip().splitlines()[-1] == ("error: ftrack-like needs the server extra (sqlalchemy is not "
                                                   "installed): pip install 'ftrack-like-api[server]'")  # fmt: skip
