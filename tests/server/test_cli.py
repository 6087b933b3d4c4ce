"""``ftrack-like``: every subcommand on a real database, and `serve` as a real process."""

import asyncio
import concurrent.futures
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import time

import pytest
import requests

from ftrack_like_api.cli import main


@pytest.fixture
def run(fresh_database, capsys):
    def run(*arguments):
        code = main([*arguments, "--database", fresh_database])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_init_is_safe_twice(run):
    for _ in range(2):
        code, out, _ = run("init")
        assert code == 0 and "is ready: 116 entity types, users admin" in out


def test_users_and_keys(run, fresh_database):
    assert run("user", "add", "jo", "--role", "read-only", "--email", "jo@example.com")[0] == 0
    code, out, _ = run("user", "list")
    assert "jo" in out and "read-only" in out and "admin" in out
    code, out, _ = run("key", "create", "--user", "jo", "--name", "dashboard")
    key = out.strip().splitlines()[-1]
    assert code == 0 and len(key) >= 40 and " " not in key
    code, out, _ = run("key", "list", "--user", "jo")
    assert "dashboard" in out and "live" in out and key not in out
    assert run("key", "revoke", "--user", "jo", "--name", "dashboard")[0] == 0
    assert "revoked" in run("key", "list")[1]
    assert run("user", "disable", "jo")[0] == 0 and "disabled" in run("user", "list")[1]


def test_a_second_key_of_the_same_name_is_refused_unless_replaced(run):
    first = run("key", "create", "--user", "admin", "--name", "nightly")[1].splitlines()[-1]
    code, out, err = run("key", "create", "--user", "admin", "--name", "nightly")
    assert code == 1 and out == "" and "admin has a key named 'nightly' already" in err and "--replace" in err
    code, out, _ = run("key", "create", "--user", "admin", "--name", "nightly", "--replace")
    assert code == 0 and out.splitlines()[-1] != first
    listed = [line for line in run("key", "list", "--user", "admin")[1].splitlines() if "nightly" in line]
    assert sorted(line.split()[2] for line in listed) == ["live", "revoked"]


def test_custom_attributes_are_defined_from_the_command_line(run, fresh_database):
    from ftrack_like_api.session import Session

    code, out, _ = run("attribute", "add", "fps", "--type", "number", "--object-type", "Shot", "--default", "24")
    assert code == 0 and out == "custom attribute 'fps' (number) added for each Shot\n"
    assert run("attribute", "add", "vendor", "--type", "text", "--hierarchical", "--default", "inhouse")[0] == 0
    assert run("attribute", "add", "htest", "--type", "number", "--entity-type", "asset")[0] == 0  # ftrack's suite has one
    code, _, err = run("attribute", "add", "fps", "--type", "number", "--object-type", "Shot")
    assert code == 1 and "exists already" in err
    code, _, err = run("attribute", "add", "fps", "--type", "number", "--object-type", "Nonsense")
    assert code == 1 and "No object type 'Nonsense'" in err
    listed = run("attribute", "list")[1]
    assert "fps" in listed and "vendor" in listed and '"inhouse"' in listed
    with Session(server_url=fresh_database, api_user="admin", schema_cache_path=False) as session:
        schema = session.query('ProjectSchema where name is "VFX"').one()
        project = session.create("Project", {"name": "cli", "full_name": "cli", "project_schema": schema})
        session.create("Shot", {"name": "sh010", "parent": project})
        session.create("Task", {"name": "comp", "parent": project})
        session.commit()
        shot = session.query('select custom_attributes from Shot where name is "sh010"').one()
        assert dict(shot["custom_attributes"]) == {"fps": 24, "vendor": "inhouse"}
        task = session.query('select custom_attributes from Task where name is "comp"').one()
        assert dict(task["custom_attributes"]) == {"vendor": "inhouse"}
        made = session.create("Asset", {"name": "plate", "parent": shot, "type": session.query("AssetType").first()})
        session.commit()
        asset = session.query(f"select custom_attributes from Asset where id is {made['id']}").one()
        assert list(asset["custom_attributes"]) == ["htest"]
        asset["custom_attributes"]["htest"] = 1005
        session.commit()
    with Session(server_url=fresh_database, api_user="admin", schema_cache_path=False) as session:
        asset = session.query(f"select custom_attributes from Asset where id is {made['id']}").one()
        assert dict(asset["custom_attributes"]) == {"htest": 1005}


def test_setting_a_password(run, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("long enough secret\n"))
    code, out, _ = run("user", "password", "admin", "--password-stdin")
    assert code == 0 and "password set for admin" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run("user", "password", "admin", "--password-stdin")
    assert code == 1 and "at least 8 characters" in err


def test_query_as_table_and_json(run):
    code, out, _ = run("query", "select name, sort from Status where name like \"%ed\" order by name")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["id", "name", "sort"] and "Approved" in out and lines[-1] == "(5 rows)"
    code, out, _ = run("query", "select name from Priority order by value", "--json")
    assert [row["name"] for row in json.loads(out)] == ["None", "Low", "Medium", "High", "Urgent"]


def test_errors_are_one_readable_line_and_a_non_zero_exit(run):
    code, _, err = run("key", "create", "--user", "nobody", "--name", "x")
    assert code == 1 and err == "error: No user 'nobody'\n"
    code, _, err = run("query", "Task where")
    studio, error = err.splitlines()[:2]
    assert code == 1 and studio.startswith("studio: ") and studio.endswith(" as admin")  # where and who, first
    assert error.startswith("error: ValidationError: Operation 0 (query): Expected condition")
    with pytest.raises(SystemExit):
        main(["user", "add", "x", "--role", "emperor"])


def test_a_database_that_cannot_be_opened_is_one_line_too(tmp_path, capsys):
    assert main(["user", "list", "--database", f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}"]) == 1  # init would make it
    err = capsys.readouterr().err
    assert err.startswith("error: Cannot open the database sqlite:///") and err.count("\n") == 1


def test_the_shell_has_a_connected_session(fresh_database, ftrack_like):
    # The shell as a person uses it, fed on its standard input: a change committed in it lasts.
    script = (
        'print("status:", session.query("Status where name is \\"Approved\\"").one()["name"])\n'
        'session.create("User", {"username": "from-the-shell"})\n'
        "session.commit()\n"
    )
    result = subprocess.run([ftrack_like, "shell", "--database", fresh_database], input=script,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "status: Approved" in result.stdout
    assert f"`session` is connected to {fresh_database} as admin" in result.stderr  # the banner, where the prompts go
    listed = subprocess.run([ftrack_like, "user", "list", "--database", fresh_database], capture_output=True, text=True)
    assert "from-the-shell" in listed.stdout


def test_the_demo_runs_on_the_database_given(run):
    code, out, _ = run("demo")
    assert code == 0 and "creates recorded, sent in one commit" in out


class Served:
    """A running ``ftrack-like serve``: its URL; what it wrote to stderr, once it has stopped."""

    def __init__(self, url):
        self.url, self.log = url, ""


@contextlib.contextmanager
def served(ftrack_like, port, database, *options):
    """``ftrack-like serve`` as its own process, ready."""
    server = subprocess.Popen([ftrack_like, "serve", "--port", str(port), "--database", database, *options],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    running = Served(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{running.url}/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        yield running
    finally:
        server.terminate()
        running.log = server.communicate(timeout=30)[1]  # waits, and closes the pipes


def new_key(ftrack_like, database, user="admin"):
    made = subprocess.run([ftrack_like, "key", "create", "--user", user, "--name", "t", "--database", database],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return made.stdout.strip().splitlines()[-1]


def test_serve_runs_a_server_that_answers(tmp_path, ftrack_like, unused_port):
    database = f"sqlite:///{tmp_path / 'served.db'}"
    with served(ftrack_like, unused_port, database, "--timeout", "0.05") as running:
        url = running.url
        key = new_key(ftrack_like, database)
        answer = requests.post(f"{url}/api", json=[{"action": "query", "expression": "Status limit 1"}],
                               headers={"ftrack-user": "admin", "ftrack-api-key": key})  # fmt: skip
        assert answer.status_code == 200 and answer.json()[0]["data"]
        # --timeout reaches the worker: a batch of 30,000 creates takes far longer than 0.05 s.
        creates = [{"action": "create", "entity_type": "User", "entity_data": {"username": f"u{i}"}} for i in range(30_000)]
        slow = requests.post(f"{url}/api", json=creates, headers={"ftrack-user": "admin", "ftrack-api-key": key})
        assert slow.json()["error_code"] == "timeout" and "limit of 0.05 s" in slow.json()["content"]
    # One log line per request, ours, with who, what and how it went; never the key.
    lines = [line for line in running.log.splitlines() if "api user=" in line]
    assert len(lines) == 2 and "api user=admin actions=query status=200 ok" in lines[0]
    assert "actions=create status=200 error timeout" in lines[1]
    assert key not in running.log and "POST /api" not in running.log  # uvicorn's access line is off


def test_several_workers_agree(fresh_database, ftrack_like, unused_port):
    """What a worker remembers lives in the database: every worker answers a retry and a throttle alike."""
    subprocess.run([ftrack_like, "user", "add", "jo", "--database", fresh_database], check=True, capture_output=True)
    with served(ftrack_like, unused_port, fresh_database, "--workers", "2", "--log-level", "warning") as running:
        url = running.url
        key = new_key(ftrack_like, fresh_database)
        batch = [{"action": "create", "entity_type": "User", "entity_data": {"username": "retried"}}]
        batch += [{"action": "create", "entity_type": "Priority", "entity_data": {"name": "p"}} for _ in range(499)]
        headers = {"ftrack-user": "admin", "ftrack-api-key": key, "ftrack-idempotency-key": "one-batch"}

        def send(_):
            # A new connection each time, so the workers share the requests between them; told
            # the batch is still running, come back, as the client does.
            while True:
                answer = requests.post(f"{url}/api", json=batch, headers={**headers, "connection": "close"})
                if answer.status_code != 409:
                    return answer
                time.sleep(0.05)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # eight copies at once
            answers = list(pool.map(send, range(8)))
        assert all(answer.status_code == 200 for answer in answers), [answer.text[:300] for answer in answers]
        assert len({answer.text for answer in answers}) == 1  # the first answer, again
        query = [{"action": "query", "expression": 'User where username is "retried"'},
                 {"action": "query", "expression": 'select id from Priority where name is "p"'}]  # fmt: skip
        found = requests.post(f"{url}/api", json=query, headers=headers | {"ftrack-idempotency-key": "q"}).json()
        assert [len(result["data"]) for result in found] == [1, 499]
        wrong = {"ftrack-user": "jo", "ftrack-api-key": "not-a-key", "connection": "close"}
        statuses = [requests.post(f"{url}/api", json=query, headers=wrong).status_code for _ in range(12)]
        assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]


def test_several_workers_answer_a_kept_alive_connection_as_fast_as_one(tmp_path, ftrack_like, unused_port):
    """The socket uvicorn binds for several workers left TCP_NODELAY off: on a kept-alive connection
    each answer then waited ~40 ms for the client's delayed ACK (uvicorn issue #3149). Same
    server, same requests, 1 and 2 workers: a stall that size cannot hide in the slack."""
    database = f"sqlite:///{tmp_path / 'served.db'}"
    medians = {}
    for workers in (1, 2):  # the same port again: the server binds it with SO_REUSEADDR
        with served(ftrack_like, unused_port, database, "--workers", str(workers), "--log-level", "warning") as running:
            with requests.Session() as connection:  # one connection, kept alive
                times = []
                for _ in range(55):
                    started = time.perf_counter()
                    connection.get(f"{running.url}/health").raise_for_status()
                    times.append(time.perf_counter() - started)
            medians[workers] = statistics.median(times[5:])  # the first few are quick-ACKed anyway
    assert medians[2] <= 1.5 * medians[1] + 0.015, medians


def test_the_listening_socket_makes_connections_that_send_at_once():
    """What the served test above measures, read directly: accepted sockets get TCP_NODELAY."""
    from ftrack_like_api.server.app import listening_socket

    async def accepted_nodelay():
        found = asyncio.get_running_loop().create_future()

        class Report(asyncio.Protocol):
            def connection_made(self, transport):
                found.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        with listening_socket("127.0.0.1", 0) as sock:
            server = await asyncio.get_running_loop().create_server(Report, sock=sock)
            async with server:
                _, writer = await asyncio.open_connection(*sock.getsockname())
                value = await asyncio.wait_for(found, 10)
                writer.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0


def test_serve_says_so_when_it_cannot_listen(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--database", f"sqlite:///{tmp_path / 'x.db'}"]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_an_unexpected_failure_is_one_line_and_the_traceback_only_when_asked(run, monkeypatch):
    import ftrack_like_api.cli.admin as cli

    def broken(options):
        raise KeyError("context_type")  # what a reader bug looked like: a traceback, before

    monkeypatch.setattr(cli, "init", broken)
    code, _, err = run("init")
    assert code == 1 and err == "error: KeyError: 'context_type' (a bug: FTRACK_LIKE_DEBUG=1 shows where)\n"
    monkeypatch.setenv("FTRACK_LIKE_DEBUG", "1")
    with pytest.raises(KeyError):
        run("init")


def test_the_command_line_keeps_its_database_in_the_users_data_folder(tmp_path, monkeypatch):
    from ftrack_like_api.cli import default_database  # the server extra: tests/server only

    monkeypatch.delenv("FTRACK_LIKE_DATABASE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    url = default_database()
    if sys.platform.startswith("linux"):
        assert url == f"sqlite:///{tmp_path / 'data' / 'ftrack-like' / 'studio.db'}"
    assert not (tmp_path / "ftrack-like").exists()  # nothing in the temporary folder
    monkeypatch.setenv("FTRACK_LIKE_DATABASE", "postgresql://db/studio")
    assert default_database() == "postgresql://db/studio"


def test_query_explain_shows_the_sql_and_the_plan(run, fresh_database):
    code, out, err = run("query", "--explain", 'select name, status.name from Task where status.name is "Done" limit 3')
    assert code == 0, err
    assert "FROM status" in out and "-- plan:" in out and out.rstrip().endswith("(0 rows)")
    assert ("SEARCH" in out or "SCAN" in out) if fresh_database.startswith("sqlite") else "Scan" in out


def test_serve_log_sql_logs_each_statement_and_its_parameters(tmp_path, ftrack_like, unused_port):
    database = f"sqlite:///{tmp_path / 'served.db'}"
    with served(ftrack_like, unused_port, database, "--log-sql") as running:
        key = new_key(ftrack_like, database)
        answer = requests.post(f"{running.url}/api", json=[{"action": "query", "expression": 'Status where name is "Done"'}],
                               headers={"ftrack-user": "admin", "ftrack-api-key": key})  # fmt: skip
        assert answer.status_code == 200
    assert "sqlalchemy.engine.Engine: SELECT" in running.log and "FROM status" in running.log
    assert "'Done'" in running.log  # the parameters, on their own line


def test_init_makes_a_new_studios_folder_and_serve_says_which_is_missing(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/studios/paris/studio.db"
    assert main(["user", "list", "--database", url]) == 1
    err = capsys.readouterr().err
    assert f"the folder {tmp_path}/studios/paris does not exist" in err and "ftrack-like init" in err
    assert not (tmp_path / "studios").exists()  # a mistyped path is not a new studio
    assert main(["init", "--database", url]) == 0
    assert (tmp_path / "studios" / "paris" / "studio.db").is_file()


def test_a_missing_postgresql_database_or_role_says_how_to_make_it(capsys):
    import os

    postgres = os.environ.get("FTRACK_LIKE_TEST_POSTGRES")
    if not postgres:
        pytest.skip("PostgreSQL tests need FTRACK_LIKE_TEST_POSTGRES (bash .ci/run sets it when PostgreSQL runs)")
    import sqlalchemy as sa

    server = sa.engine.make_url(postgres)
    missing = server.set(database="no_such_studio_database").render_as_string(hide_password=False)
    assert main(["init", "--database", missing]) == 1
    err = capsys.readouterr().err
    assert 'database "no_such_studio_database" does not exist' in err
    assert f"createdb -h {server.host} -p {server.port or 5432} -U postgres" in err
    stranger = server.set(username="no_such_role", password="secret").render_as_string(hide_password=False)
    assert main(["init", "--database", stranger]) == 1
    err = capsys.readouterr().err
    assert 'role "no_such_role" does not exist' in err and 'CREATE ROLE "no_such_role" LOGIN' in err
    assert "secret" not in err  # never the password
