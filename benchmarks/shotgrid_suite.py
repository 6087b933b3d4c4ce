"""shotgun_api3's own live-server tests (``tests/test_api.py`` and friends) against our server.

Give it a checkout of ShotGrid's python-api at the 3.10 release (``--source``; its tests are never
copied into this repository) and it:

1. makes (once) a virtual environment of its own with pytest (the suite imports the checkout's own
   ``shotgun_api3``, which vendors what it needs);
2. makes a new database (a SQLite file, or a schema of its own in ``--postgres``), runs
   ``ftrack-like init`` and makes the script key the suite's configuration names;
3. serves it with ``ftrack-like serve`` on a free port, or ``--port`` (80: a URL without a port, which
   ``test_upload_download`` needs; its files in a temporary folder), writes
   the suite's ``tests/config`` (the server, the script, the test data's names) and runs
   ``pytest tests/test_api.py tests/test_api_long.py tests/test_client.py`` in the checkout;
4. prints passed, failed (errors included) and skipped per test file and the totals, and writes
   them and every failing test to ``--output`` (JSON). The tests in :data:`AUTODESK_ONLY` wait on
   what only Autodesk's hosted service does and are left out unless ``--all``.

Usage::

    git -C MIRROR archive v3.10.0 | tar -x -C /tmp/sg-python-api
    .venv/bin/python benchmarks/shotgrid_suite.py --source /tmp/sg-python-api \\
        --venv /tmp/sg-suite-venv --output shotgrid-suite.json [--postgres] [--port 80] [-- -k TestFind]

Anything after ``--`` goes to pytest. The last line printed is ``all: N passed, N failed, N skipped``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import venv
import xml.etree.ElementTree as ElementTree
from typing import Any

from ftrack_suite import Outcome, junit_outcomes
from scratch import POSTGRES, ftrack_like, scratch_database, served_process

#: What the suite's own requirements file asks for, that the run needs (coverage and nunit are reports).
REQUIREMENTS = ["pytest>=7.4"]
#: The suite's files that talk to a server, or check the client against one.
TEST_FILES = ["tests/test_api.py", "tests/test_api_long.py", "tests/test_client.py"]
#: The script the suite signs in as (``script_name`` in its configuration).
SCRIPT = "api-suite"
#: Tests that wait on what only Autodesk's hosted service does, left out unless ``--all`` (docs/howto/shotgrid.rst
#: says why): each thumbnail test polls ``find_one_await_thumbnail`` until the image is ShotGrid's "transient"
#: placeholder, shown while its transcoder works, for up to 30 x 10 s, and fails after — here a thumbnail is ready
#: when the upload answers, so each would cost five minutes to fail.
AUTODESK_ONLY = {
    "TestShotgunApi::test_upload_thumbnail_in_create": "waits for ShotGrid's transcoding placeholder (and filmstrips)",
    "TestShotgunApi::test_upload_thumbnail_for_version": "waits for ShotGrid's transcoding placeholder",
    "TestShotgunApi::test_upload_thumbnail_for_task": "waits for ShotGrid's transcoding placeholder",
    "TestShotgunApi::test_linked_thumbnail_url": "waits for ShotGrid's transcoding placeholder",
    "TestHumanUserAuth::test_humanuser_upload_thumbnail_for_version": "waits for ShotGrid's transcoding placeholder",
    "TestSessionTokenAuth::test_humanuser_upload_thumbnail_for_version": "waits for ShotGrid's transcoding placeholder",
}

CONFIG = """[SERVER_INFO]
server_url     : {url}
script_name    : {script}
api_key        : {key}
http_proxy     :
session_uuid   :

[TEST_DATA]
project_name   : PTR unittest project
human_name     : Sg unittest human
human_login    : sgunittesthuman
human_password : human password
asset_code     : Sg unittest asset
version_code   : Sg unittest version
shot_code      : Sg unittest shot
task_content   : Sg unittest task
playlist_code  : Sg unittest playlist
"""


def suite_python(folder: pathlib.Path) -> str:
    """The python of the suite's virtual environment in ``folder``, made and filled if it is not there yet."""
    python = folder / "bin" / "python"
    if not python.exists():
        venv.create(folder, with_pip=True)
    if subprocess.run([str(python), "-c", "import pytest"], capture_output=True).returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    return str(python)


def run_pytest(python: str, source: pathlib.Path, extra: list[str]) -> dict[str, Outcome]:
    """Run the suite's files in ``source`` (its ``tests/config`` written); each test's outcome by its id.

    ``extra`` goes to pytest (``--deselect`` of :data:`AUTODESK_ONLY` unless ``--all``)."""
    with tempfile.TemporaryDirectory(prefix="sg-suite-") as folder:
        report = pathlib.Path(folder) / "junit.xml"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SG_") and k != "PYTHONPATH"}
        environment["NO_PROXY"] = environment["no_proxy"] = "127.0.0.1,localhost"
        subprocess.run([python, "-m", "pytest", *TEST_FILES, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                        f"--junitxml={report}", *extra],
                       cwd=source, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        return outcomes(report)


def outcomes(report: pathlib.Path) -> dict[str, Outcome]:
    """Each test's outcome in a JUnit XML ``report``, by ``tests/file.py::Class::test`` (names repeat across classes)."""
    return junit_outcomes(report, _test_id)


def _test_id(case: ElementTree.Element) -> str:
    module, _, cls = (case.get("classname") or "").rpartition(".")
    return f"{module.replace('.', '/')}.py::{cls}::{case.get('name')}"


def summary(found: dict[str, Outcome]) -> dict[str, Any]:
    """Counts per file and in total, and the failures."""
    files: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for test, outcome in found.items():
        files[test.split("::")[0]][outcome.outcome] += 1
    total: collections.Counter[str] = collections.Counter()
    for counts in files.values():
        total.update(counts)
    return {
        "files": {name: dict(counts) for name, counts in sorted(files.items())},
        "total": dict(total),
        "failed": {test: outcome.message for test, outcome in sorted(found.items()) if outcome.outcome == "failed"},
        "skipped": {test: outcome.message for test, outcome in sorted(found.items()) if outcome.outcome == "skipped"},
    }


def main() -> int:
    """Run the suite as the module's docstring says; exit 0 whatever the tests did (the counts are the result)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=pathlib.Path, required=True, help="a checkout of python-api at v3.10.x")
    parser.add_argument("--venv", type=pathlib.Path, default=pathlib.Path(tempfile.gettempdir()) / "sg-suite-venv",
                        help="the suite's virtual environment, made if missing (default: %(default)s)")  # fmt: skip
    parser.add_argument("--postgres", nargs="?", const=POSTGRES, default=None,
                        help="run on a PostgreSQL schema of its own in this server (default: a new SQLite file)")  # fmt: skip
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("shotgrid-suite.json"))
    parser.add_argument("--all", action="store_true", help="run the tests that wait on Autodesk's service too "
                        "(AUTODESK_ONLY: five minutes each)")  # fmt: skip
    parser.add_argument("--port", type=int, default=None,
                        help="serve on this port (default a free one); 80 gives the suite a URL without a port, whose "
                        "host Python's cookie jar sends download_attachment's _session_id cookie to "
                        "(test_upload_download)")  # fmt: skip
    parser.add_argument("pytest", nargs="*", help="arguments for pytest (after --)")
    options = parser.parse_args()
    source = options.source.resolve()
    if not (source / "tests" / "test_api.py").is_file() or not (source / "shotgun_api3").is_dir():
        raise SystemExit(f"{source} has no tests/test_api.py: give a checkout of shotgunsoftware/python-api")
    python = suite_python(options.venv)
    executable = ftrack_like()
    kind = "postgresql" if options.postgres else "sqlite"
    with scratch_database(kind, options.postgres or POSTGRES, prefix="sgsuite") as database:
        subprocess.run([executable, "init", "--database", database], check=True, capture_output=True)
        made = subprocess.run([executable, "key", "create", "--database", database, "--user", "admin", "--name",
                               SCRIPT], check=True, capture_output=True, text=True)  # fmt: skip
        key = made.stdout.strip().splitlines()[-1]
        with tempfile.TemporaryDirectory(prefix="sg-suite-files-") as files:
            environment = {**os.environ, "FTRACK_LIKE_STORAGE": files}
            with served_process(executable, database, environment=environment, port=options.port) as url:
                (source / "tests" / "config").write_text(CONFIG.format(url=url, script=SCRIPT, key=key))
                left_out = [] if options.all else [f"--deselect=tests/test_api.py::{test}" for test in AUTODESK_ONLY]
                found = run_pytest(python, source, [*left_out, *options.pytest])
    result = {"benchmark": "shotgrid_suite", "database": kind, **summary(found),
              "left_out": {} if options.all else AUTODESK_ONLY}  # fmt: skip
    options.output.write_text(json.dumps(result, indent=2))
    width = max((len(name) for name in result["files"]), default=10)
    for name, counts in result["files"].items():
        print(f"{name:<{width}}  {counts.get('passed', 0):4d} passed {counts.get('failed', 0):4d} failed "
              f"{counts.get('skipped', 0):4d} skipped")  # fmt: skip
    total = result["total"]
    if not options.all:
        print(f"left out (Autodesk's service only, --all runs them): {len(AUTODESK_ONLY)}")
    print(f"all: {total.get('passed', 0)} passed, {total.get('failed', 0)} failed, {total.get('skipped', 0)} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
