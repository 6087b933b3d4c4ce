"""Issue 9's probes, rerun as an attacker and a load tester would, against ``ftrack-like serve --workers 4``.

    python benchmarks/security_probe.py [--database URL] [--workers 4] [--fuzz 2000] [--storm 200] [--seed 9]

Starts ``ftrack-like serve`` as a process of its own on 127.0.0.1 (an ephemeral port) over
a fresh database — a SQLite file in a temporary folder, or with ``--database
postgresql://…`` a new schema there, dropped at the end — builds a studio of a few
thousand tasks through the API, and runs six probes over plain HTTP (requests, strict
mode), printing one line per probe with PASS or FAIL and its numbers (a failure adds the
requests and answers that failed), and exits 1 if any failed:

takeover
    A normal user tries to rename the admin, rename themself to admin, create, disable,
    re-enable and delete users, change another's e-mail, reset another's key and give
    themself a role: every attempt is a 403 ``PermissionError`` and nothing changes. Then
    an administrator renames ``admin`` away and the user to ``admin``: the user's key,
    sent under the new name on new connections (so they reach every worker), still acts
    as that user.
idempotency
    Eight copies of a 500-create batch with one idempotency key, at once on eight
    connections (a copy told 409 ``in_progress`` comes back): stored once, and every copy
    gets the same answer; the key with another batch is a 422.
fuzz
    ``--fuzz`` malformed requests from a seeded generator (deep nesting, wrong-typed
    fields, huge numbers, NaN, lone surrogates, NUL bytes, 5,000 ORs, bad datetimes,
    junk expressions, bodies that are not JSON or not UTF-8 …): no 5xx, every answer
    JSON, and no SQL or database text the request did not carry.
overload
    ``--storm`` concurrent slow queries (``ancestors any (descendants any (…))`` on the
    studio, sized so one takes about half a second alone) while ``/health`` is asked
    every 0.1 s: every answer is 200, or 503 with ``Retry-After``; ``/health`` answers
    each time in under a second.
credentials
    A sign-in token ends when the password is changed (``ftrack-like user password``)
    and with ``ftrack-like user logout-everywhere``.
permissions
    A freelancer granted one project (``ftrack-like user grant``) sees nothing of
    another through queries (Project, Task, a count, ``has``/``any``, a path, an
    AssetVersion, an id) and cannot write there.

Run it once per database; about two to three minutes each on a 2-core machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any, Callable

import requests
from scratch import ftrack_like, scratch_database, served_process

#: Words of SQL, of the drivers and of the database's errors that must never reach a client
#: (unless the request carried them itself). Constraint names are ``uq_<table>_<column>``
#: and PostgreSQL's ``<table>_pkey`` / ``<table>_<column>_fkey``.
SQL_TEXT = re.compile(
    r"\bSELECT\b|\bINSERT\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE FROM\b|\bWHERE\b|\bLINE \d|operator does not exist|"
    r"sqlite3|psycopg|Traceback|\bconstraint\b|\buq_\w+|\w+_(?:pkey|fkey)\b|\bsyntax error at\b"
)


# --- the server ----------------------------------------------------------------------------


def fresh_database(url: str | None) -> Any:
    """A new empty database: a SQLite file in a temporary folder, or a new schema in ``url``, dropped afterwards."""
    if url is not None and not url.startswith("postgresql"):
        raise SystemExit("--database takes a postgresql:// URL (without it, a new SQLite file is used)")
    return scratch_database("sqlite" if url is None else "postgresql", url or "", prefix="probe")


class Cli:
    """``ftrack-like`` on the probe's database, as an administrator runs it."""

    def __init__(self, executable: str, database: str) -> None:
        self.executable, self.database = executable, database

    def __call__(self, *arguments: str, stdin: str | None = None) -> str:
        done = subprocess.run([self.executable, *arguments, "--database", self.database], input=stdin,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"ftrack-like {' '.join(arguments)}: {done.stderr.strip()}")
        return done.stdout

    def key(self, user: str) -> str:
        return self("key", "create", "--user", user, "--name", "probe").strip().splitlines()[-1]


def served(cli: Cli, workers: int) -> Any:
    """``ftrack-like serve --workers N`` on the probe's database, once ``/ready`` answers; its URL."""
    return served_process(cli.executable, cli.database, workers)


# --- talking to it -------------------------------------------------------------------------


class Api:
    """One identity on the server: ``send`` posts a batch in strict mode and gives (status, answer).

    Each request goes on a new connection unless ``keep_alive``: uvicorn's workers share
    the listening socket, so new connections spread over the workers.
    """

    def __init__(self, url: str, user: str, key: str | None = None, token: str | None = None, keep_alive: bool = False):
        self.url = url
        self.headers = {"ftrack-strict-api": "true", "content-type": "application/json"}
        if token:
            self.headers["authorization"] = f"Bearer {token}"
        else:
            self.headers.update({"ftrack-user": user, "ftrack-api-key": key or ""})
        self.http: Any = requests.Session() if keep_alive else requests

    def as_name(self, user: str) -> Api:
        """The same key sent under another user name."""
        return Api(self.url, user, self.headers.get("ftrack-api-key"))

    def post(self, body: bytes | str, **headers: str) -> requests.Response:
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return self.http.post(f"{self.url}/api", data=data, headers={**self.headers, **headers}, timeout=120)

    def send(self, *operations: dict[str, Any], **headers: str) -> tuple[int, Any]:
        response = self.post(json.dumps(list(operations)), **headers)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def query(self, expression: str) -> list[dict[str, Any]]:
        status, answer = self.send({"action": "query", "expression": expression})
        if status != 200:
            raise RuntimeError(f"{expression!r} answered {status}: {str(answer)[:300]}")
        return answer[0]["data"]

    def write(self, *operations: dict[str, Any]) -> list[Any]:
        status, answer = self.send(*operations)
        if status != 200:
            raise RuntimeError(f"a batch of {len(operations)} answered {status}: {str(answer)[:300]}")
        return answer


def create(entity_type: str, **data: Any) -> dict[str, Any]:
    """A create operation with a client-chosen id (``data['id']``), so a batch can refer to it."""
    data.setdefault("id", str(uuid.uuid4()))
    return {"action": "create", "entity_type": entity_type, "entity_key": [data["id"]], "entity_data": data}


def update(entity_type: str, key: str, **data: Any) -> dict[str, Any]:
    return {"action": "update", "entity_type": entity_type, "entity_key": [key], "entity_data": data}


def delete(entity_type: str, key: str) -> dict[str, Any]:
    return {"action": "delete", "entity_type": entity_type, "entity_key": [key]}


def brief(answer: Any, size: int = 240) -> str:
    text = answer if isinstance(answer, str) else json.dumps(answer)
    return text if len(text) <= size else text[:size] + "…"


@dataclasses.dataclass
class Result:
    name: str
    passed: bool
    summary: str
    details: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


class Check:
    """What one probe saw: failures are kept with the request and the answer."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __call__(self, condition: bool, what: str) -> bool:
        if not condition:
            self.failures.append(what)
        return condition


# --- the studio ----------------------------------------------------------------------------


@dataclasses.dataclass
class Studio:
    users: dict[str, str]  # name -> id
    keys: dict[str, str]
    projects: dict[str, str]  # name -> id
    beta: dict[str, str]  # ids of rows in the project the freelancer is not granted
    alpha_shot: str
    fuzz_ids: list[str]
    tasks: int


def build_studio(url: str, cli: Cli, sequences: int, shots: int, tasks_per_shot: int) -> Studio:
    """Users and their keys; projects ``alpha`` (the big one), ``beta`` (kept from the freelancer) and ``fuzz``."""
    keys = {"admin": cli.key("admin")}
    admin = Api(url, "admin", keys["admin"])
    schema = admin.query('ProjectSchema where name is "VFX"')[0]["id"]
    asset_type = admin.query("AssetType limit 1")[0]["id"]
    batch: list[dict[str, Any]] = []

    def add(entity_type: str, **data: Any) -> str:
        batch.append(create(entity_type, **data))
        return batch[-1]["entity_data"]["id"]

    users = {"admin": admin.query('User where username is "admin"')[0]["id"]}
    for name in ("jo", "ann", "vendor", "signer"):
        users[name] = add("User", username=name, email=f"{name}@studio.example", first_name=name.title())
    projects: dict[str, str] = {}
    rows: dict[str, dict[str, Any]] = {}
    sizes = {"alpha": (sequences, shots, tasks_per_shot), "beta": (1, 2, 2), "fuzz": (1, 2, 2)}
    for name, (n_sequences, n_shots, n_tasks) in sizes.items():
        projects[name] = add("Project", name=name, full_name=name.title(), project_schema_id=schema)
        made: dict[str, Any] = {"project": projects[name], "tasks": []}
        for s in range(n_sequences):
            sequence = add("Sequence", name=f"{name}_sq{s:03d}", parent_id=projects[name])
            made.setdefault("sequence", sequence)
            for h in range(n_shots):
                shot = add("Shot", name=f"{name}_sq{s:03d}_sh{h:03d}", parent_id=sequence)
                made.setdefault("shot", shot)
                made["tasks"] += [add("Task", name=f"task{t}", parent_id=shot, bid=1.0) for t in range(n_tasks)]
        made["task"] = made["tasks"][0]
        made["asset"] = add("Asset", name=f"{name}_plate", context_id=made["shot"], type_id=asset_type)
        made["version"] = add("AssetVersion", asset_id=made["asset"], task_id=made["task"], comment=f"{name} version")
        made["note"] = add("Note", content=f"{name} note", parent_id=made["task"], parent_type="Task")
        add("Appointment", type="assignment", resource_id=users["jo"], context_id=made["task"])
        rows[name] = made
    for start in range(0, len(batch), 5000):
        admin.write(*batch[start:start + 5000])
    for name in ("jo", "ann", "vendor", "signer"):
        keys[name] = cli.key(name)
    fuzz = rows["fuzz"]
    return Studio(users=users, keys=keys, projects=projects,
                  beta={key: value for key, value in rows["beta"].items() if key != "tasks"},
                  alpha_shot=rows["alpha"]["shot"], fuzz_ids=[*fuzz["tasks"], fuzz["shot"], fuzz["sequence"]],
                  tasks=sequences * shots * tasks_per_shot)  # fmt: skip


# --- 1. takeover ---------------------------------------------------------------------------


def probe_takeover(url: str, studio: Studio, spread: int) -> Result:
    ids, keys = studio.users, studio.keys
    admin, jo, ann = (Api(url, name, keys[name]) for name in ("admin", "jo", "ann"))
    check = Check()
    for _ in range(spread):  # every worker has served admin and jo (a worker that would remember names, has)
        admin.query("select username from User limit 1")
        jo.query("select username from User limit 1")
    status, found = admin.send({"action": "query", "expression": 'SecurityRole where name is "Administrator"'})
    admin_role = found[0]["data"][0]["id"] if status == 200 and found[0]["data"] else str(uuid.uuid4())
    admin.write(update("User", ids["ann"], is_active=False))  # for jo to try re-enabling
    attempts = {
        "rename admin": [update("User", ids["admin"], username="admin_old")],
        "rename self to admin": [update("User", ids["jo"], username="admin")],
        "create a user": [create("User", username="mallory")],
        "disable admin": [update("User", ids["admin"], is_active=False)],
        "re-enable ann (disabled by admin)": [update("User", ids["ann"], is_active=True)],
        "delete admin": [delete("User", ids["admin"])],
        "delete ann": [delete("User", ids["ann"])],
        "change admin's e-mail": [update("User", ids["admin"], email="admin@evil.example")],
        "change ann's e-mail": [update("User", ids["ann"], email="ann@evil.example")],
        "reset admin's key": [{"action": "reset_remote", "reset_type": "api_key", "entity_type": "User",
                               "entity_key": ids["admin"]}],  # fmt: skip
        "reset ann's key": [{"action": "reset_remote", "reset_type": "api_key", "entity_type": "User",
                             "entity_key": [ids["ann"]]}],  # fmt: skip
        "make self Administrator": [create("UserSecurityRole", user_id=ids["jo"], security_role_id=admin_role,
                                           is_all_projects=True)],  # fmt: skip
        "make self admin via SecurityRole": [update("SecurityRole", admin_role, name="User")],
    }
    refused = 0
    for what, batch in attempts.items():
        status, answer = jo.send(*batch)
        ok = status == 403 and isinstance(answer, dict) and answer.get("exception") == "PermissionError"
        refused += ok
        check(ok, f"{what}: jo sent {brief(batch)} -> {status} {brief(answer)}")
    acted = 0
    try:  # after attempts that got through, the studio may be too broken to go on: that is a failure too
        admin.write(update("User", ids["ann"], is_active=True))
        after = {u["username"]: u for u in admin.query("select username, email, is_active from User")}
        check(set(after) >= {"admin", "jo", "ann"} and "mallory" not in after, f"users afterwards: {sorted(after)}")
        emails = {name: after.get(name, {}).get("email") for name in ("admin", "ann")}
        check(emails["admin"] != "admin@evil.example" and emails["ann"] == "ann@studio.example", f"e-mails: {emails}")
        roles = admin.query(f'select security_role.name from UserSecurityRole where user_id is "{ids["jo"]}"')
        check(all(r["security_role"]["name"] != "Administrator" for r in roles), f"jo's roles: {brief(roles)}")
        check(ann.send({"action": "query", "expression": "User limit 1"})[0] == 200, "ann's key stopped working")

        # The admin renames: admin -> admin_old, jo -> admin. jo's key under "admin" must act as jo, everywhere.
        old_admin = admin.as_name("admin_old")
        try:
            admin.write(update("User", ids["admin"], username="admin_old"))
            old_admin.write(update("User", ids["jo"], username="admin"))
            jo_as_admin = jo.as_name("admin")
            for i in range(spread):
                status, answer = jo_as_admin.send(create("Note", content=f"who am I {i}"))
                mine = status == 200 and answer[0]["data"].get("user_id") == ids["jo"]
                check(mine, f"renamed jo created a Note -> {status} {brief(answer)} (should be jo's: {ids['jo']})")
                status, answer = jo_as_admin.send({"action": "reset_remote", "reset_type": "api_key",
                                                   "entity_type": "User", "entity_key": [ids["ann"]]})  # fmt: skip
                check(status == 403, f"renamed jo reset ann's key -> {status} {brief(answer)}")
                status, answer = jo_as_admin.send(update("User", ids["ann"], is_active=False))
                check(status == 403, f"renamed jo disabled ann -> {status} {brief(answer)}")
                acted += mine and status == 403
                if i < 3:  # the old name is gone (not more often: ten failures would throttle the name)
                    status, answer = jo.send({"action": "query", "expression": "User limit 1"})
                    check(status == 401, f"jo's key under the old name 'jo' -> {status} {brief(answer)}")
        finally:
            old_admin.send(update("User", ids["jo"], username="jo"))
            old_admin.send(update("User", ids["admin"], username="admin"))
        check(admin.send({"action": "query", "expression": "User limit 1"})[0] == 200, "admin's name was not restored")
    except Exception as failure:
        check(False, f"could not go on after the attempts: {type(failure).__name__}: {brief(str(failure))}")
    summary = (f"{refused}/{len(attempts)} takeover attempts refused 403 PermissionError; "
               f"after admin->admin_old, jo->admin: {acted}/{spread} rounds on new connections acted as jo")  # fmt: skip
    return Result("takeover", not check.failures, summary, check.failures)


# --- 2. idempotency ------------------------------------------------------------------------


def probe_idempotency(url: str, studio: Studio) -> Result:
    check = Check()
    admin = Api(url, "admin", studio.keys["admin"])
    tag = uuid.uuid4().hex[:8]
    batch = [{"action": "create", "entity_type": "Task", "entity_data": {"name": f"idem-{tag}-{i:03d}",
              "parent_id": studio.alpha_shot}} for i in range(500)]  # fmt: skip
    body = json.dumps(batch)
    start = threading.Barrier(8)
    comebacks = [0] * 8

    def send(copy: int) -> requests.Response:
        with requests.Session() as connection:  # a connection of its own
            start.wait()
            while True:
                response = connection.post(f"{url}/api", data=body, timeout=120, headers={
                    **admin.headers, "ftrack-idempotency-key": f"probe-{tag}"})  # fmt: skip
                if response.status_code != 409:
                    return response
                comebacks[copy] += 1
                time.sleep(float(response.headers.get("Retry-After", "1")))

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    elapsed = time.perf_counter() - began
    statuses = [a.status_code for a in answers]
    check(statuses == [200] * 8, f"statuses of the eight copies: {statuses}; first other: "
          f"{next((brief(a.text) for a in answers if a.status_code != 200), '')}")  # fmt: skip
    distinct = len({a.content for a in answers})
    check(distinct == 1, f"{distinct} different answers to the eight copies")
    stored = len(admin.query(f'select id from Task where name like "idem-{tag}-%"'))
    check(stored == 500, f"{stored} tasks stored (expected 500)")
    other = json.dumps(batch[:1] + [{"action": "create", "entity_type": "Task",
                                     "entity_data": {"name": f"other-{tag}", "parent_id": studio.alpha_shot}}])  # fmt: skip
    reused = admin.post(other, **{"ftrack-idempotency-key": f"probe-{tag}"})
    answer = reused.json() if reused.headers.get("content-type", "").startswith("application/json") else reused.text
    named = isinstance(answer, dict) and answer.get("error_code") == "idempotency_key_reused" \
        and f"probe-{tag}" in answer.get("content", "")
    check(reused.status_code == 422 and named, f"the key with another batch -> {reused.status_code} {brief(answer)}")
    stored_after = len(admin.query(f'select id from Task where name like "idem-{tag}-%" or name is "other-{tag}"'))
    check(stored_after == 500, f"{stored_after} tasks after the reused key (expected 500)")
    summary = (f"8 copies x 500 creates: statuses {sorted(set(statuses))}, {stored} rows stored, {distinct} distinct "
               f"answer(s), {sum(comebacks)} 409 come-backs, {elapsed:.1f} s; reused key -> {reused.status_code}")  # fmt: skip
    return Result("idempotency", not check.failures, summary, check.failures)


# --- 3. fuzz -------------------------------------------------------------------------------

ACTIONS = ["query", "create", "update", "delete", "reset_remote", "query_schemas", "query_server_information",
           "get_upload_metadata", "nope", ""]  # fmt: skip
TYPES = ["Task", "Project", "User", "Status", "Event", "Metadata", "TypedContext", "Context", "AssetVersion", "Note",
         "UserSecurityRole", "ApiKey", "Nope", ""]  # fmt: skip
ATTRIBUTES = ["id", "name", "parent_id", "parent", "bid", "start_date", "end_date", "metadata", "children", "username",
              "__entity_type__", "status_id", "priority", "custom_attributes", "is_active", "sort", "description"]  # fmt: skip
FRAGMENTS = ["select", "from", "where", "and", "or", "not", "is", "is_not", "in", "like", "has", "any", "limit",
             "offset", "order by", "group by", "count(id)", "name", "id", "parent", "parent.parent.name", "status.name",
             "children", "ancestors", "descendants", "bid", "sort", "start_date", "(", ")", ",", '"x"', "0", "1.5",
             "-1", "None", "true", "99999999999999999999999", "1e400", "-0", "Task", "Project", "TypedContext",
             "Context", "User", ":p", "'", "\\", "\u00e9", "\x00", "\ud800", '"2023-13-45T99:99:99"', "descending",
             "select name from Task where", "Task where", "custom_attributes any (key is", "metadata any (key is"]  # fmt: skip
STRANGE_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "\udfff", "x\ud83d", "'", '"', "\\", "%", "_", "' OR 1=1 --",
                "\u202e", "\ufeff", "é" * 300, "x" * 70_000, "None", "null", "2023-13-45T99:99:99", "NaN"]  # fmt: skip
NUMBERS = [0, -1, 1.5, -0.0, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(10**30), 1e308, 5e-324, 10**400]


class Fuzzer:
    """Malformed requests, seeded: the same ``seed`` sends the same requests."""

    def __init__(self, seed: int, ids: list[str]) -> None:
        self.random = random.Random(seed)
        self.ids = ids

    def text(self) -> str:
        r = self.random
        if r.random() < 0.5:
            return r.choice(STRANGE_TEXT)
        return "".join(chr(r.choice([r.randrange(32, 127), r.randrange(0, 0x2FFFF)])) for _ in range(r.randrange(12)))

    def junk(self, depth: int = 0) -> Any:
        r = self.random
        kind = r.randrange(9 if depth < 3 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return r.choice([True, False])
        if kind == 2:
            return r.choice(NUMBERS)
        if kind == 3:
            return self.text()
        if kind == 4:
            return r.choice(self.ids)
        if kind == 5:
            return {"__type__": r.choice(["datetime", "date", "nope", None]),
                    "value": r.choice(["2023-10-10T09:50:34", "2023-13-45T99:99:99", "", "0000-00-00", "tomorrow",
                                       "9999-12-31T23:59:59+99:00", 5, None, [], "2023-10-10T09:50:34\x00"])}  # fmt: skip
        if kind in (6, 7):
            return [self.junk(depth + 1) for _ in range(r.randrange(4))]
        return {r.choice(ATTRIBUTES + [self.text()]): self.junk(depth + 1) for _ in range(r.randrange(4))}

    def expression(self) -> Any:
        r = self.random
        if r.random() < 0.1:
            return self.junk()
        words = [r.choice(FRAGMENTS) for _ in range(r.randrange(1, 14))]
        if r.random() < 0.3:
            words.insert(0, f"select {r.choice(['name', 'parent.parent.name', 'ancestors.name', 'id'])} from "
                            f"{r.choice(TYPES)} where")  # fmt: skip
        if r.random() < 0.2:
            words.append(f'id is "{r.choice(self.ids)}"')
        return " ".join(words)

    def operation(self) -> Any:
        r = self.random
        if r.random() < 0.1:
            return self.junk()
        operation: dict[str, Any] = {"action": r.choice(ACTIONS) if r.random() < 0.85 else self.junk()}
        fields = {
            "entity_type": lambda: r.choice(TYPES) if r.random() < 0.8 else self.junk(),
            "entity_key": lambda: r.choice([[r.choice(self.ids)], self.junk(), [self.junk()], r.choice(self.ids)]),
            "entity_data": lambda: {r.choice(ATTRIBUTES): self.junk() for _ in range(r.randrange(5))}
            if r.random() < 0.8 else self.junk(),
            "expression": self.expression,
            "values": lambda: [r.choice(["version", "schema_hash", self.text()])] if r.random() < 0.5 else self.junk(),
            "reset_type": lambda: r.choice(["api_key", "name", "bid", "is_active", ""])
            if r.random() < 0.8 else self.junk(),
        }  # fmt: skip
        for name, make in fields.items():
            if r.random() < 0.5:
                operation[name] = make()
        return operation

    def body(self) -> tuple[str, bytes]:
        """A kind of malformed request and its body."""
        r = self.random
        special = r.randrange(40)
        if special == 0:
            depth = r.choice([33, 100, 1000, 100_000])
            return "deep nesting", ("[" * depth + "]" * depth).encode()
        if special == 1:
            ors = " or ".join(f'name is "{i}"' for i in range(5000))
            expression = f"select name from Task where {ors}"
            return "5,000 ORs", json.dumps([{"action": "query", "expression": expression}]).encode()
        if special == 2:
            return "non-JSON number", r.choice([b'[{"action": "query_server_information", "values": [NaN]}]',
                                                b"[Infinity]", b"[-Infinity]", b"[1e999999]", b"[" + b"9" * 5000 + b"]"])  # fmt: skip
        if special == 3:
            return "not JSON", r.choice([b"", b"[", b"{}", b"null", b"42", b'"text"', b"[{]", b"\xff\xfe[]",
                                         b'[{"action": "query", "expression": "Task"}', b"[]" * 1000])  # fmt: skip
        if special == 4:
            return "not UTF-8", json.dumps([{"action": "query", "expression": 'Task where name is "'}]).encode()[:-4] \
                + r.choice([b"\xed\xa0\x80", b"\xc3\x28", b"\x80\x81", b"\xf5\x80\x80\x80"]) + b'"}]'  # fmt: skip
        if special == 5:
            query = r.choice([f"Task limit {10**r.randrange(15, 40)}", f"Task offset {2**63}", "Task limit -1",
                              "select " + ".".join(["parent"] * r.choice([25, 500])) + ".name from Task",
                              "select parent.parent.parent.name from Task", 'Task where start_date > "2023-13-45"',
                              "Task where bid > 1e400", f'Task where name is "{"x" * 100_000}"'])  # fmt: skip
            return "edge query", json.dumps([{"action": "query", "expression": query}]).encode()
        if special == 6:
            return "many operations", json.dumps([self.operation() for _ in range(r.randrange(50, 400))]).encode()
        batch = [self.operation() for _ in range(r.randrange(4))] if r.random() < 0.9 else self.junk()
        return "random batch", json.dumps(batch).encode("utf-8", "surrogatepass")


def probe_fuzz(url: str, studio: Studio, count: int, seed: int, threads: int = 4) -> Result:
    fuzzer = Fuzzer(seed, studio.fuzz_ids + [str(uuid.uuid4()), "", "0"])
    bodies = [fuzzer.body() for _ in range(count)]
    statuses: dict[int, int] = {}
    server_errors: list[str] = []
    not_json: list[str] = []
    sql: list[str] = []
    no_answer: list[str] = []
    lock = threading.Lock()

    def run(share: list[tuple[str, bytes]]) -> None:
        api = Api(url, "admin", studio.keys["admin"], keep_alive=True)  # one kept-alive connection: it must live on
        for kind, body in share:
            shown = f"[{kind}] {brief(body.decode('utf-8', 'backslashreplace'), 200)}"
            try:
                response = api.post(body)
            except requests.RequestException as reason:
                with lock:
                    no_answer.append(f"{shown} -> no answer: {reason}")
                continue
            text = response.text
            with lock:
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 500:
                    server_errors.append(f"{shown} -> {response.status_code} {brief(text)}")
                try:
                    if not isinstance(response.json(), (list, dict)):
                        raise ValueError
                except ValueError:
                    kind = response.headers.get("content-type")
                    not_json.append(f"{shown} -> {response.status_code} {kind} {brief(text)}")
                asked = body.decode("utf-8", "replace")
                leaked = [m.group(0) for m in SQL_TEXT.finditer(text) if m.group(0) not in asked]
                if leaked:
                    sql.append(f"{shown} -> {response.status_code} {brief(text, 400)} (says {leaked[:3]})")

    began = time.perf_counter()
    shares = [bodies[i::threads] for i in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, shares))
    elapsed = time.perf_counter() - began
    failures = [*server_errors[:10], *not_json[:10], *sql[:10], *no_answer[:10]]
    passed = not (server_errors or not_json or sql or no_answer)
    shown_statuses = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    summary = (f"{count} requests (seed {seed}, {elapsed:.1f} s): {len(server_errors)} 5xx, {len(not_json)} not JSON, "
               f"{len(sql)} with SQL text, {len(no_answer)} unanswered; statuses {shown_statuses}")  # fmt: skip
    return Result("fuzz", passed, summary, failures)


# --- 4. overload ---------------------------------------------------------------------------


def slow_query(task_names: int) -> str:
    """A query that walks every ancestor's descendants for each task named task0..task<n-1>: quadratic work."""
    names = ", ".join(f'"task{t}"' for t in range(task_names))
    return f'select name from Task where name in ({names}) and ancestors any (descendants any (name like "%zz%"))'


def timed(api: Api, expression: str) -> float:
    began = time.perf_counter()
    api.query(expression)
    return time.perf_counter() - began


#: Asks a URL every 0.1 s and prints when (time.time()), how long it took and the status, a JSON line each.
WATCHER = """
import json, sys, time, urllib.request
while True:
    at, began = time.time(), time.perf_counter()
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
            response.read()
            status = response.status
    except Exception as reason:
        status = str(reason)
    print(json.dumps([at, time.perf_counter() - began, status]), flush=True)
    time.sleep(0.1)
"""


def probe_overload(url: str, cli: Cli, studio: Studio, storm: int, tasks_per_shot: int, target: float = 0.5) -> Result:
    check = Check()
    admin = Api(url, "admin", studio.keys["admin"])
    one = statistics.median(timed(admin, slow_query(1)) for _ in range(3))  # a tenth of the tasks, with 10 per shot
    names = max(1, min(tasks_per_shot, round(target / max(one, 1e-3))))
    expression = slow_query(names)
    alone = statistics.median(timed(admin, expression) for _ in range(2))
    body = json.dumps([{"action": "query", "expression": expression}])
    answers: list[tuple[int, str | None, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(storm)

    def ask(_: int) -> None:
        start.wait()
        try:
            response = admin.post(body)
            result = (response.status_code, response.headers.get("Retry-After"), response.text)
        except requests.RequestException as reason:
            result = (0, None, f"no answer: {reason}")
        with lock:
            answers.append(result)

    # /health is timed from a process of its own, so the storm's 200 client threads do not slow the timing; and
    # so is an idle server's on this machine meanwhile: what the machine's own load costs any server.
    with tempfile.TemporaryDirectory(prefix="security-probe-idle-") as folder:
        idle = Cli(cli.executable, f"sqlite:///{folder}/idle.db")
        idle("init")
        with served(idle, 1) as idle_url:
            watchers = [subprocess.Popen([sys.executable, "-c", WATCHER, f"{where}/health"], stdout=subprocess.PIPE,
                                         text=True) for where in (url, idle_url)]  # fmt: skip
            time.sleep(0.5)
            storm_began = time.time()
            with concurrent.futures.ThreadPoolExecutor(storm) as pool:
                list(pool.map(ask, range(storm)))
            elapsed = time.time() - storm_began
            time.sleep(0.3)
            for watcher in watchers:
                watcher.terminate()
            seen, idle_seen = ([json.loads(line) for line in watcher.communicate(timeout=30)[0].splitlines()
                                if json.loads(line)[0] >= storm_began - 0.1] for watcher in watchers)  # fmt: skip
    health = [took for _, took, _ in seen]
    when = [at - storm_began for at, _, _ in seen]
    idle_worst = max((took for _, took, _ in idle_seen), default=float("nan"))
    health_failures = [f"/health at {at - storm_began:.1f} s -> {status}" for at, _, status in seen if status != 200]
    ok = sum(1 for status, _, _ in answers if status == 200)
    busy = sum(1 for status, retry, _ in answers if status == 503 and retry)
    others = [(status, retry, text) for status, retry, text in answers
              if status != 200 and not (status == 503 and retry)]  # fmt: skip
    for status, retry, text in others[:10]:
        check(False, f"{brief(expression, 120)} -> {status} Retry-After={retry} {brief(text)}")
    if others:
        kinds: dict[str, int] = {}
        for status, _, text in others:
            try:
                code = f"{status} {json.loads(text).get('error_code')}"
            except (ValueError, AttributeError):
                code = f"{status} (not JSON)"
            kinds[code] = kinds.get(code, 0) + 1
        check(False, f"other answers: {kinds}")
    check(not health_failures, "; ".join(health_failures[:5]))
    worst = max(health) if health else float("nan")
    slow = [f"{took:.2f} s at {at:.1f} s" for took, at in zip(health, when) if took >= 1.0]
    check(bool(health) and worst < 1.0, f"/health took up to {worst:.2f} s; over a second {len(slow)} times "
          f"(into the storm): {', '.join(slow[:10])}")  # fmt: skip
    summary = (f"{storm} x a query of {alone:.2f} s alone: {ok} answered 200, {busy} 503 + Retry-After, {len(others)} "
               f"other, in {elapsed:.1f} s; /health x{len(health)}: median {statistics.median(health) * 1000:.0f} ms, "
               f"max {worst * 1000:.0f} ms (an idle server's meanwhile: max {idle_worst * 1000:.0f} ms)")  # fmt: skip
    return Result("overload", not check.failures, summary, check.failures)


# --- 5. credentials ------------------------------------------------------------------------


def signin(url: str, name: str, password: str) -> str:
    response = requests.post(f"{url}/signin", json={"username": name, "password": password}, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"signin {name} -> {response.status_code} {brief(response.text)}")
    return response.json()["token"]


def probe_credentials(url: str, cli: Cli, studio: Studio, spread: int) -> Result:
    check = Check()
    cli("user", "password", "signer", "--password-stdin", stdin="first long password\n")

    def statuses(token: str) -> list[int]:
        api = Api(url, "signer", token=token)
        ask = {"action": "query", "expression": "select username from User limit 1"}
        return [api.send(ask)[0] for _ in range(spread)]

    token = signin(url, "signer", "first long password")
    before = statuses(token)
    check(before == [200] * spread, f"a fresh token -> {before}")
    cli("user", "password", "signer", "--password-stdin", stdin="second long password\n")
    after_password = statuses(token)
    check(after_password == [401] * spread, f"the token after the password changed -> {after_password}")
    old = requests.post(f"{url}/signin", json={"username": "signer", "password": "first long password"}, timeout=30)
    check(old.status_code == 401, f"sign-in with the old password -> {old.status_code} {brief(old.text)}")
    second = signin(url, "signer", "second long password")
    check(statuses(second) == [200] * spread, "a token of the new password does not work")
    cli("user", "logout-everywhere", "signer")
    after_logout = statuses(second)
    check(after_logout == [401] * spread, f"the token after logout-everywhere -> {after_logout}")
    key_works = Api(url, "signer", studio.keys["signer"]).send({"action": "query", "expression": "User limit 1"})[0]
    check(key_works == 200, f"signer's API key after logout-everywhere -> {key_works} (keys stay)")
    summary = (f"token x{spread} requests: before {sorted(set(before))}, "
               f"after password change {sorted(set(after_password))}, "
               f"after logout-everywhere {sorted(set(after_logout))}; old password sign-in {old.status_code}; "
               f"API key still {key_works}")  # fmt: skip
    return Result("credentials", not check.failures, summary, check.failures)


# --- 6. project permissions ----------------------------------------------------------------


def probe_permissions(url: str, cli: Cli, studio: Studio) -> Result:
    check = Check()
    beta = studio.beta
    admin = Api(url, "admin", studio.keys["admin"])
    cli("user", "grant", "vendor", "--project", "alpha")
    vendor = Api(url, "vendor", studio.keys["vendor"])
    seen = 0
    queries = {
        "select name from Project": lambda rows: sorted(r["name"] for r in rows) == ["alpha"],
        'select name from Project where name is "beta"': lambda rows: rows == [],
        f'select name from Project where id is "{beta["project"]}"': lambda rows: rows == [],
        'select name from Task where project.name is "beta"': lambda rows: rows == [],
        f'select name from Task where id is "{beta["task"]}"': lambda rows: rows == [],
        'select count(id) from Task where project.name is "beta"': lambda rows: rows[0]["count_id"] == 0,
        "select count(id) from Task": lambda rows: rows[0]["count_id"] >= studio.tasks,
        "select count(id), project_id from Context group by project_id":
            lambda rows: [r["project_id"] for r in rows] == [studio.projects["alpha"]],
        'select name from TypedContext where name like "beta%"': lambda rows: rows == [],
        'select username from User where assignments any (context.project.name is "beta")': lambda rows: rows == [],
        'select name from Sequence where children any (name like "beta%")': lambda rows: rows == [],
        'select name from Task where parent has (name like "beta%")': lambda rows: rows == [],
        'select assignments.context.name, assignments.context.project.name from User where username is "jo"':
            lambda rows: all(a["context"]["project"]["name"] == "alpha" for a in rows[0]["assignments"]),
        "select asset.name, comment from AssetVersion": lambda rows: [r["comment"] for r in rows] == ["alpha version"],
        f'select comment from AssetVersion where asset_id is "{beta["asset"]}"': lambda rows: rows == [],
        'select comment from AssetVersion where asset.parent.project.name is "beta"': lambda rows: rows == [],
        "select content from Note": lambda rows: "beta note" not in [r["content"] for r in rows],
        "select name from Asset": lambda rows: [r["name"] for r in rows] == ["alpha_plate"],
        f'select name from Task where parent_id in (select id from Shot where id is "{beta["shot"]}")':
            lambda rows: rows == [],
    }  # fmt: skip
    for expression, holds in queries.items():
        status, answer = vendor.send({"action": "query", "expression": expression})
        try:
            ok = status == 200 and holds(answer[0]["data"])
        except (KeyError, IndexError, TypeError):
            ok = False
        seen += not ok
        check(ok, f"vendor: {expression} -> {status} {brief(answer, 400)}")
    writes = {
        "rename beta's task": update("Task", beta["task"], name="mine"),
        "delete beta's task": delete("Task", beta["task"]),
        "comment beta's version": update("AssetVersion", beta["version"], comment="mine"),
        "rename beta": update("Project", beta["project"], name="mine"),
        "a shot under beta's sequence": create("Shot", name="sneak", parent_id=beta["sequence"]),
        "a task under beta's shot": create("Task", name="sneak", parent_id=beta["shot"]),
        "a note on beta's task": create("Note", content="sneak", parent_id=beta["task"], parent_type="Task"),
        "a version of beta's asset": create("AssetVersion", asset_id=beta["asset"], task_id=beta["task"]),
        "move alpha's shot into beta": update("Shot", studio.alpha_shot, parent_id=beta["sequence"]),
        "bid of beta's task": {"action": "reset_remote", "reset_type": "bid", "entity_type": "Task",
                               "entity_key": [beta["task"]]},  # fmt: skip
    }
    refused = 0
    for what, operation in writes.items():
        status, answer = vendor.send(operation)
        ok = 400 <= status < 500 and isinstance(answer, dict) \
            and answer.get("exception") in ("PermissionError", "ValidationError")
        refused += ok
        check(ok, f"vendor: {what}: {brief(operation)} -> {status} {brief(answer)}")
    after = admin.query(f'select name, parent_id from TypedContext where project_id is "{beta["project"]}"')
    check(len(after) == 1 + 2 + 4 and not any(r["name"] in ("mine", "sneak") for r in after),
          f"beta's contexts after the attempts: {brief([r['name'] for r in after])}")  # fmt: skip
    shot = admin.query(f'select parent_id from Shot where id is "{studio.alpha_shot}"')[0]
    check(shot["parent_id"] != beta["sequence"], "alpha's shot moved into beta")
    status, _ = vendor.send(create("Task", name="vendor-work", parent_id=studio.alpha_shot))
    check(status == 200, f"vendor's own work in alpha -> {status}")
    summary = (f"{len(queries) - seen}/{len(queries)} queries showed nothing of beta, {refused}/{len(writes)} writes "
               f"there refused; work in alpha -> {status}")  # fmt: skip
    return Result("permissions", not check.failures, summary, check.failures)


# --- the run -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a postgresql:// URL to probe in a new schema (default: a new SQLite file)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--sequences", type=int, default=10, help="sequences of the big project (default 10)")
    parser.add_argument("--shots", type=int, default=30, help="shots per sequence (default 30)")
    parser.add_argument("--tasks", type=int, default=10, help="tasks per shot (default 10)")
    parser.add_argument("--fuzz", type=int, default=2000, help="malformed requests to send (default 2,000)")
    parser.add_argument("--storm", type=int, default=200, help="concurrent slow queries (default 200)")
    parser.add_argument("--seed", type=int, default=9, help="the fuzzer's seed (default 9)")
    parser.add_argument("--only", help="run only these probes (comma-separated names)")
    options = parser.parse_args()
    executable = ftrack_like()
    spread = options.workers * 4  # requests on new connections, so that each worker gets some
    results: list[Result] = []
    began = time.perf_counter()
    with fresh_database(options.database) as database:
        cli = Cli(executable, database)
        cli("init")
        kind = database.split(":", 1)[0]
        with served(cli, options.workers) as url:
            made = time.perf_counter()
            studio = build_studio(url, cli, options.sequences, options.shots, options.tasks)
            print(f"{kind}, {options.workers} workers at {url}: a studio of {studio.tasks:,} tasks in "
                  f"{time.perf_counter() - made:.1f} s", flush=True)  # fmt: skip
            probes: dict[str, Callable[[], Result]] = {
                "takeover": lambda: probe_takeover(url, studio, spread),
                "idempotency": lambda: probe_idempotency(url, studio),
                "fuzz": lambda: probe_fuzz(url, studio, options.fuzz, options.seed),
                "overload": lambda: probe_overload(url, cli, studio, options.storm, options.tasks),
                "credentials": lambda: probe_credentials(url, cli, studio, spread),
                "permissions": lambda: probe_permissions(url, cli, studio),
            }
            chosen = options.only.split(",") if options.only else list(probes)
            for name in chosen:
                started = time.perf_counter()
                try:
                    result = probes[name]()
                except Exception as failure:  # a probe that could not run is a failure, and the others still run
                    result = Result(name, False, f"could not run: {type(failure).__name__}: {brief(str(failure), 400)}")
                result.seconds = time.perf_counter() - started
                results.append(result)
                verdict = "PASS" if result.passed else "FAIL"
                print(f"{verdict}  {name:<12} {result.summary} [{result.seconds:.1f} s]", flush=True)
                for detail in result.details[:12]:
                    print(f"      {detail}", flush=True)
    failed = [r.name for r in results if not r.passed]
    print(f"{len(results) - len(failed)}/{len(results)} probes held on {kind} in {time.perf_counter() - began:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
