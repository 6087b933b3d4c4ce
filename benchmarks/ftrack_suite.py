"""ftrack-python's own unit tests (``test/unit``) run with the official client against our server.

Give it a checkout of ftrack-python (``--source``; its tests are never copied into this
repository) and it:

1. makes (once) a virtual environment of its own with ``ftrack-python-api`` 3.1.0 and what its
   tests import (pytest 7, pytest-mock, mock, flaky, termcolor<2): the client's pins clash with ours;
2. makes a new database (a SQLite file, or a schema of its own in ``--postgres``), runs
   ``ftrack-like init``, and adds the data ftrack's test server holds at fixed ids that the suite's
   fixtures fetch (the "Jenkins" user, the "VFX Scheme" project schema with the statuses and types
   ``test_project_schema.py`` names, the test project and its task ``t1``), and what its tests take
   the first of (ten users, a shot, an asset and a version, the custom attributes they name, set, a timelog);
3. serves it with ``ftrack-like serve`` on a free port (its files in a temporary folder,
   ``FTRACK_LIKE_STORAGE``) and runs ``pytest test/unit`` with
   ``FTRACK_SERVER``, ``FTRACK_API_USER`` and ``FTRACK_API_KEY`` (a key from ``ftrack-like key create``);
4. runs the suite once more against a port where nothing listens: a test that passes there does not
   talk to a server, and the others are the *server-talking* tests (``--no-offline`` skips this);
5. prints passed and failed per test file and the totals, and writes them and every failing test to
   ``--output`` (JSON).

Usage::

    git -C MIRROR archive HEAD | tar -x -C /tmp/ftrack-python-src
    .venv/bin/python benchmarks/ftrack_suite.py --source /tmp/ftrack-python-src \\
        --venv /tmp/ftrack-suite-venv --output ftrack-suite.json [-- -k test_note]

Anything after ``--`` goes to pytest. The last line printed is
``server-talking: N passed, N failed``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import venv
import xml.etree.ElementTree as ElementTree
from typing import Any, Callable, NamedTuple

from scratch import POSTGRES, free_port, ftrack_like, scratch_database, served_process

#: What the suite needs beside the client (ftrack-python's pyproject, its test group).
REQUIREMENTS = ["ftrack-python-api==3.1.0", "pytest>=7.4,<8", "pytest-mock>=3.11", "mock>=5.1", "flaky>=3.7",
                "termcolor>=1.1,<2"]  # fmt: skip

#: Ids ftrack's test server has, which the suite's fixtures fetch.
JENKINS_USER = "d07ae5d0-66e1-11e1-b5e9-f23c91df25eb"
VFX_SCHEME = "69cb7f92-4dbf-11e1-9902-f23c91df25eb"
TEST_PROJECT = "5671dcb0-66de-11e1-8e6e-f23c91df25eb"
TEST_TASK = "adb4ad6c-7679-11e2-8df2-f23c91df25eb"
#: Assets the 2.x suite (PyPI's sdist) names: one ``new_asset_version`` adds to, and one whose version 8 has a
#: component (``test_query_nested``).
TEST_ASSET = "dd9a7e2e-c5eb-11e1-9885-f23c91df25eb"
NESTED_ASSET = "12939d0c-6766-11e1-8104-f23c91df25eb"

#: The VFX Scheme's workflows and types as test_project_schema.py expects them: status (state) lists.
TASK_STATUSES = [("Not started", "NOT_STARTED"), ("In progress", "IN_PROGRESS"),
                 ("Awaiting approval", "IN_PROGRESS"), ("Approved", "DONE")]  # fmt: skip
VERSION_STATUSES = [("Pending", "IN_PROGRESS"), ("Approved", "DONE")]
CONTAINER_STATUSES = [("Normal", "IN_PROGRESS"), ("Omitted", "DONE"), ("On Hold", "BLOCKED")]
TASK_TYPES = ["Generic", "Animation", "Modeling", "Previz", "Lookdev", "Hair", "Cloth", "FX", "Lighting",
              "Compositing", "Tracking", "Rigging", "test 1", "test type 2"]  # fmt: skip
ASSET_BUILD_TYPES = ["Character", "Prop", "Environment", "Matte Painting"]
#: The custom attributes test_custom_attribute.py reads and writes: key, type, entity type, object type.
CUSTOM_ATTRIBUTES = [("customNumber", "number", "task", "Task"), ("fstart", "number", "task", "Shot"),
                     ("NumberField", "number", "assetversion", None), ("versiontest", "number", "assetversion", None),
                     ("listbool", "boolean", "list", None), ("teststring", "text", "user", None),
                     ("htest", "number", "asset", None)]  # fmt: skip


class Outcome(NamedTuple):
    """How one test ended (``passed``, ``failed``, ``skipped``) and, when it failed, the first line of why."""

    outcome: str
    message: str = ""


def suite_python(folder: pathlib.Path, base: str | None = None, requirements: list[str] = REQUIREMENTS) -> str:
    """The python of the suite's virtual environment in ``folder``, made (from ``base``, default this
    interpreter) and filled with ``requirements`` if it is not there yet."""
    python = folder / "bin" / "python"
    if not python.exists():
        if base is None:
            venv.create(folder, with_pip=True)
        else:
            subprocess.run([base, "-m", "venv", str(folder)], check=True)
    have = subprocess.run([str(python), "-c", "import ftrack_api, pytest, mock, flaky, pytest_mock"],
                          capture_output=True)  # fmt: skip
    if have.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
    return str(python)


def seed_test_data(database: str, executable: str) -> None:
    """Add what ftrack's test server holds at fixed ids (see the module's docstring) to ``database``."""
    from ftrack_like_api import Session

    with Session(server_url=database, api_user="admin", schema_cache_path=False) as session:

        def status(name: str, state: str) -> Any:
            found = session.query(f'Status where name is "{name}"').first()
            return found or session.create(
                "Status", {"name": name, "state": session.query(f'State where short is "{state}"').one()}
            )

        def kind(name: str) -> Any:
            return session.query(f'Type where name is "{name}"').first() or session.create("Type", {"name": name})

        def workflow(name: str, statuses: list[tuple[str, str]]) -> Any:
            made = session.create("WorkflowSchema", {"name": name})
            for sort, (status_name, state) in enumerate(statuses):
                session.create("WorkflowSchemaStatus", {"workflow_schema_id": made["id"],
                                                        "status_id": status(status_name, state)["id"], "sort": sort})  # fmt: skip
            return made

        task_types = session.create("TaskTypeSchema", {"name": "VFX Scheme task types"})
        for sort, name in enumerate(TASK_TYPES):
            session.create("TaskTypeSchemaType", {"task_type_schema_id": task_types["id"], "type_id": kind(name)["id"],
                                                  "sort": sort})  # fmt: skip
        scheme = session.create("ProjectSchema", {
            "id": VFX_SCHEME, "name": "VFX Scheme", "task_type_schema": task_types,
            "task_workflow_schema": workflow("VFX Scheme tasks", TASK_STATUSES),
            "asset_version_workflow_schema": workflow("VFX Scheme versions", VERSION_STATUSES),
        })  # fmt: skip
        for object_type in session.query("ObjectType").all():
            session.create("ProjectSchemaObjectType", {"project_schema_id": VFX_SCHEME,
                                                       "object_type_id": object_type["id"]})  # fmt: skip
            if object_type["name"] == "Task":
                continue
            schema = session.create("Schema", {"project_schema_id": VFX_SCHEME, "object_type_id": object_type["id"]})
            for sort, (name, state) in enumerate(CONTAINER_STATUSES):
                session.create("SchemaStatus", {"schema_id": schema["id"], "status_id": status(name, state)["id"],
                                                "sort": sort})  # fmt: skip
            types = ASSET_BUILD_TYPES if object_type["name"] in ("Asset Build", "AssetBuild") else ["Generic"]
            for sort, name in enumerate(types):
                session.create("SchemaType", {"schema_id": schema["id"], "type_id": kind(name)["id"], "sort": sort})
        session.create("User", {"id": JENKINS_USER, "username": "jenkins", "first_name": "Jenkins",
                                "last_name": "Test", "email": "jenkins@example.com"})  # fmt: skip
        project = session.create("Project", {"id": TEST_PROJECT, "name": "tests", "full_name": "Tests",
                                             "project_schema": scheme})  # fmt: skip
        python_api = session.create("Folder", {"name": "python_api", "parent": project})
        tasks = session.create("Folder", {"name": "tasks", "parent": python_api})
        task = session.create("Task", {"id": TEST_TASK, "name": "t1", "parent": tasks, "type": kind("Generic"),
                                       "status": status("Not started", "NOT_STARTED")})  # fmt: skip
        for number in range(10):  # a studio's worth of users: test_query.py pages through ten
            session.create("User", {"username": f"artist{number:02d}", "first_name": "Artist", "last_name": str(number)})
        sequence = session.create("Sequence", {"name": "sq010", "parent": project})
        shot = session.create("Shot", {"name": "sh010", "parent": sequence})
        asset_type = session.query("AssetType").first()
        asset = session.create("Asset", {"id": TEST_ASSET, "name": "plate", "parent": shot, "type": asset_type})
        version = session.create("AssetVersion", {"asset": asset, "task": task})
        nested = session.create("Asset", {"id": NESTED_ASSET, "name": "comp", "parent": shot, "type": asset_type})
        for number in (1, 8):
            made = session.create("AssetVersion", {"asset": nested, "task": task, "version": number})
        session.create("FileComponent", {"name": "main", "version": made, "file_type": ".exr", "size": 1})
        session.create("Timelog", {"user_id": JENKINS_USER, "context_id": TEST_TASK, "name": "t1", "duration": 3600,
                                   "start": datetime.datetime(2024, 1, 8, 9, 0)})  # fmt: skip
        session.commit()
    for key, value_type, entity_type, object_type in CUSTOM_ATTRIBUTES:
        more = ["--object-type", object_type] if object_type else []
        subprocess.run([executable, "attribute", "add", key, "--type", value_type, "--entity-type", entity_type, *more,
                        "--database", database], check=True, capture_output=True)  # fmt: skip
    with Session(server_url=database, api_user="admin", schema_cache_path=False) as session:
        session.get("Task", TEST_TASK)["custom_attributes"]["customNumber"] = 7
        session.get("Shot", shot["id"])["custom_attributes"]["fstart"] = 1001
        session.get("AssetVersion", version["id"])["custom_attributes"]["NumberField"] = 3
        session.commit()


def run_pytest(python: str, source: pathlib.Path, server: str, key: str, extra: list[str]) -> dict[str, Outcome]:
    """Run ``test/unit`` against ``server``; each test's outcome by its id."""
    with tempfile.TemporaryDirectory(prefix="ftrack-suite-") as folder:
        report = pathlib.Path(folder) / "junit.xml"
        environment = {**os.environ, "FTRACK_SERVER": server, "FTRACK_API_USER": "admin", "FTRACK_API_KEY": key}
        environment.pop("PYTHONPATH", None)
        subprocess.run([python, "-m", "pytest", "test/unit", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                        "--continue-on-collection-errors", f"--junitxml={report}", *extra],
                       cwd=source, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        return outcomes(report, source)


def run_served(python: str, source: pathlib.Path, kind: str, postgres: str, extra: list[str],
               workers: int = 1) -> dict[str, Outcome]:
    """Run ``test/unit`` against ``ftrack-like serve --workers N`` on a new, seeded database of ``kind``
    (a schema of its own in ``postgres`` for ``postgresql``); each test's outcome by its id."""
    executable = ftrack_like()
    with scratch_database(kind, postgres, prefix="ftracksuite") as database:
        subprocess.run([executable, "init", "--database", database], check=True, capture_output=True)
        seed_test_data(database, executable)
        made = subprocess.run([executable, "key", "create", "--database", database, "--user", "admin", "--name",
                               "ftrack-suite"], check=True, capture_output=True, text=True)  # fmt: skip
        key = made.stdout.strip().splitlines()[-1]
        # The server location's files: beside a SQLite file by default, nowhere on PostgreSQL unless given.
        with tempfile.TemporaryDirectory(prefix="ftrack-suite-files-") as files:
            environment = {**os.environ, "FTRACK_LIKE_STORAGE": files}
            with served_process(executable, database, workers, environment=environment) as url:
                return run_pytest(python, source, url, key, extra)


def outcomes(report: pathlib.Path, source: pathlib.Path) -> dict[str, Outcome]:
    """The outcome of each test in a JUnit XML ``report`` (a file that failed to collect is one failed test)."""
    return junit_outcomes(report, lambda case: f"{test_file(case.get('classname') or case.get('name', ''), source)}"
                                               f"::{case.get('name')}")


def junit_outcomes(report: pathlib.Path, name: Callable[[ElementTree.Element], str]) -> dict[str, Outcome]:
    """Each test's outcome in a JUnit XML ``report``, by the id ``name`` gives its ``testcase`` (a teardown error,
    a second entry for the same test, keeps it failed); shared with ``shotgrid_suite.py``."""
    found: dict[str, Outcome] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        test = name(case)
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            outcome = Outcome("failed", (problem.get("message") or "").split("\n")[0][:300])
        elif (skipped := case.find("skipped")) is not None:
            outcome = Outcome("skipped", (skipped.get("message") or "")[:300])
        else:
            outcome = Outcome("passed")
        if test not in found or found[test].outcome != "failed":
            found[test] = outcome
    return found


def test_file(dotted: str, source: pathlib.Path) -> str:
    """``test.unit.entity.test_note[.Class]`` as the file it names, ``test/unit/entity/test_note.py``."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        path = "/".join(parts[:end]) + ".py"
        if (source / path).exists():
            return path
    return dotted


def talks_to_server(online: Outcome, offline: Outcome | None) -> bool:
    """Whether a test talks to the server: it does not pass without one, and does not fail the same way with one."""
    if offline is None:
        return True  # it was not collected without a server: its module talks to one as it loads
    same = online.outcome == "failed" and _shape(online.message) == _shape(offline.message)
    return offline.outcome == "failed" and online.outcome != "skipped" and not same


def _shape(message: str) -> str:
    """A failure's message without its numbers and ids (temporary names differ from run to run)."""
    return re.sub(r"[0-9a-f]{6,}|\d+", "#", message)


def summary(online: dict[str, Outcome], offline: dict[str, Outcome] | None) -> dict[str, Any]:
    """Counts per file and in total, for every test and for the server-talking ones, and the failures."""
    files: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for test, outcome in online.items():
        counts = files[test.split("::")[0]]
        counts[outcome.outcome] += 1
        if offline is not None and talks_to_server(outcome, offline.get(test)):
            counts[f"server_{outcome.outcome}"] += 1
    total: collections.Counter[str] = collections.Counter()
    for counts in files.values():
        total.update(counts)
    return {
        "files": {name: dict(counts) for name, counts in sorted(files.items())},
        "total": dict(total),
        "failed": {test: outcome.message for test, outcome in sorted(online.items()) if outcome.outcome == "failed"},
    }


def main() -> int:
    """Run the suite as the module's docstring says; exit 0 whatever the tests did (the counts are the result)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=pathlib.Path, required=True, help="a checkout of ftrack-python")
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path(tempfile.gettempdir()) / "ftrack-suite-venv",
                        help="the suite's virtual environment, made if missing (default: %(default)s)")  # fmt: skip
    parser.add_argument("--base-python", help="the interpreter the suite's environment is made from (default: this "
                        "one); the file cache tests need one with dbm.gnu or dbm.ndbm, e.g. Debian's python3 with "
                        "python3-gdbm")  # fmt: skip
    parser.add_argument("--postgres", nargs="?", const=POSTGRES, default=None,
                        help="run on a PostgreSQL schema of its own in this server (default: a new SQLite file)")  # fmt: skip
    parser.add_argument("--no-offline", action="store_true", help="skip the run that tells server-talking tests apart")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("ftrack-suite.json"))
    parser.add_argument("pytest", nargs="*", help="arguments for pytest (after --)")
    options = parser.parse_args()
    source = options.source.resolve()
    if not (source / "test" / "unit").is_dir():
        raise SystemExit(f"{source} has no test/unit: give a checkout of ftrack-python")
    python = suite_python(options.venv, options.base_python)
    ftrack_like()  # stops here when the server is not installed
    offline = None
    if not options.no_offline:
        offline = run_pytest(python, source, f"http://127.0.0.1:{free_port()}", "unused", options.pytest)
    kind = "postgresql" if options.postgres else "sqlite"
    online = run_served(python, source, kind, options.postgres or POSTGRES, options.pytest)
    result = {"benchmark": "ftrack_suite", "database": kind, **summary(online, offline)}
    options.output.write_text(json.dumps(result, indent=2))
    width = max((len(name) for name in result["files"]), default=10)
    for name, counts in result["files"].items():
        line = f"{name:<{width}}  {counts.get('passed', 0):4d} passed {counts.get('failed', 0):4d} failed"
        if offline is not None:
            line += f"   server-talking: {counts.get('server_passed', 0):4d} passed {counts.get('server_failed', 0):4d} failed"
        print(line)
    total = result["total"]
    print(f"all: {total.get('passed', 0)} passed, {total.get('failed', 0)} failed, {total.get('skipped', 0)} skipped")
    if offline is not None:
        print(f"server-talking: {total.get('server_passed', 0)} passed, {total.get('server_failed', 0)} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
