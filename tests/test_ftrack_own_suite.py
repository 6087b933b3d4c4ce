"""ftrack-python's own unit tests (``test/unit``) with the official client against a real server.

The suite ships in PyPI's source distribution of ``ftrack-python-api`` 2.5.4 (the 3.x releases ship
wheels only). This test downloads it (the pinned URL, its sha256 checked; kept in the user's cache
directory, so a second run needs no network), installs that client release and what its tests import
into a virtual environment of its own (kept there too), serves a new database seeded the way
``benchmarks/ftrack_suite.py`` seeds it with ``ftrack-like serve`` on 127.0.0.1, runs the suite's own
pytest on it, and checks every test's outcome: each passes, or is skipped by the suite itself, or is
in :data:`KNOWN_FAILURES` with its reason — and one listed there that passes fails this test until it
is taken off the list.

CI runs it on SQLite (``FTRACK_LIKE_OWN_SUITE_DATABASES=sqlite,postgresql`` runs it on both; the
suite takes about three and a half minutes per database). Outside CI a download or install that
cannot be done skips with the reason; in CI (``CI=true``) it fails.
"""

import contextlib
import hashlib
import importlib
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import platformdirs
import pytest
import requests

#: Minutes long: started first when the suite runs on several workers (tests/conftest.py).
pytestmark = pytest.mark.long(3)

pytest.importorskip("uvicorn", reason="the server extra is not installed")

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent / "benchmarks"

#: The source distribution that holds the suite, and its sha256.
SDIST = ("https://files.pythonhosted.org/packages/7a/8b/6c8e583a331606e5ebb5a154d138dd6a293b41b238709480ac7a52c36a01/"
         "ftrack-python-api-2.5.4.tar.gz")  # fmt: skip
SDIST_SHA256 = "dde62dba9d024690ec34b852088c6bfd2b93fa827420d8d405e918b0eed99070"
#: The client the suite was written for (its wheel: the sdist's setup.py no longer builds), and what its tests import.
REQUIREMENTS = ["ftrack-python-api==2.5.4", "pytest>=7.4,<8", "pytest-mock>=3.11", "mock>=5.1", "flaky>=3.7",
                "termcolor>=1.1,<2"]  # fmt: skip
#: How many tests the suite has (a collection that finds fewer is a failure, not a pass).
SUITE_SIZE = 540

#: Where the suite runs (empty: nowhere, the test is skipped).
DATABASES = [name.strip() for name in os.environ.get("FTRACK_LIKE_OWN_SUITE_DATABASES", "sqlite").split(",") if name.strip()]

#: The suite's tests that fail here, each with why. Take a test off when it passes (this test says which).
KNOWN_FAILURES = {
    "test/unit/entity/test_location.py::test_get_thumbnail_url":
        "compares the thumbnail's bytes with 2.5.4's fixture image-resized-10.png, an older ftrack server's: the "
        "same pixels, but an RGBA PNG; ftrack's server now answers a palette PNG, as the 3.x suite's fixture has "
        "it byte for byte and ours does (benchmarks/ftrack_suite.py)",
    "test/unit/entity/test_asset_version.py::test_encode_media":
        "reads an output component right after encode_media returns: ftrack's server makes the outputs when it "
        "queues the job, ours when the encoding is done (so a failed encode leaves none); the job's data names "
        "them from the start (docs/howto/encode-media.rst)",
}  # fmt: skip


def runner(name):
    """The benchmark runner ``benchmarks/<name>.py`` as a module (it imports its neighbours by bare name)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def unavailable(reason):
    """Skip with ``reason``; in CI, where the package index is reachable, fail."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def cache_folder():
    """Where downloaded suites and their environments are kept between runs."""
    folder = pathlib.Path(platformdirs.user_cache_dir("ftrack-like", appauthor=False)) / "client-suites"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def downloaded(url, sha256):
    """The file at ``url`` in the cache (downloaded once, its sha256 checked each time)."""
    path = cache_folder() / url.rsplit("/", 1)[1]
    if not path.exists():
        try:
            answer = requests.get(url, timeout=120)
            answer.raise_for_status()
        except requests.RequestException as error:
            unavailable(f"{url} could not be downloaded: {error}")
        partial = path.with_suffix(".partial")
        partial.write_bytes(answer.content)
        partial.replace(path)
    found = hashlib.sha256(path.read_bytes()).hexdigest()
    assert found == sha256, f"{path} has sha256 {found}, not {sha256}: remove it to download it again"
    return path


def unpacked(archive, folder):
    """``archive`` (a .tar.gz) unpacked in ``folder``: the folder it holds."""
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, filter="data")
        else:  # Python before 3.11.4: the archive's sha256 was checked
            tar.extractall(folder)  # noqa: S202
    (top,) = pathlib.Path(folder).iterdir()
    return top


def dbm_python():
    """An interpreter whose ``dbm`` has ``gnu`` or ``ndbm`` (the suite's file cache tests need one): this one,
    else the system's ``python3``."""
    for candidate in (sys.executable, shutil.which("python3", path="/usr/bin:/usr/local/bin")):
        if candidate and subprocess.run([candidate, "-c", "import dbm.gnu"], capture_output=True).returncode == 0:
            return candidate
        if candidate and subprocess.run([candidate, "-c", "import dbm.ndbm"], capture_output=True).returncode == 0:
            return candidate
    return None


def environment(suite, requirements, base):
    """The python of the suite's virtual environment, made from ``base`` in the cache and filled once."""
    version = subprocess.run([base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    folder = cache_folder() / f"{requirements[0].replace('==', '-')}-py{version}-{hashlib.sha256(base.encode()).hexdigest()[:8]}"
    try:
        return suite.suite_python(folder, base, requirements)
    except subprocess.CalledProcessError as error:
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
        unavailable(f"the suite's environment ({', '.join(requirements)}) could not be installed: {error}")


def verdict(found, known, size):
    """What is wrong with the suite's outcomes ``found`` (by test id) against the ``known`` failures: a list of lines."""
    wrong = []
    if len(found) < size:
        wrong.append(f"the suite ran {len(found)} tests, not {size}")
    for test, outcome in sorted(found.items()):
        if outcome.outcome == "failed" and test not in known:
            wrong.append(f"FAILED {test}: {outcome.message}")
        elif outcome.outcome == "passed" and test in known:
            wrong.append(f"PASSES NOW (take it off the known failures) {test}")
    wrong.extend(f"NOT RUN (a known failure the suite no longer has) {test}" for test in sorted(set(known) - set(found)))
    return wrong


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("kind", DATABASES)
def test_ftrack_python_own_unit_suite(kind, tmp_path):
    suite = runner("ftrack_suite")
    base = dbm_python()
    if base is None:
        unavailable("no Python here has dbm.gnu or dbm.ndbm, which the suite's file cache tests need "
                    "(Debian: apt-get install python3-gdbm)")  # fmt: skip
    python = environment(suite, REQUIREMENTS, base)
    source = unpacked(downloaded(SDIST, SDIST_SHA256), tmp_path / "sdist")
    postgres = os.environ.get("FTRACK_LIKE_TEST_POSTGRES")
    if kind == "postgresql" and not postgres:
        pytest.skip("PostgreSQL tests need FTRACK_LIKE_TEST_POSTGRES (bash .ci/run sets it when PostgreSQL runs)")
    found = suite.run_served(python, source, kind, postgres or "", [])
    counts = {name: sum(o.outcome == name for o in found.values()) for name in ("passed", "failed", "skipped")}
    print(f"ftrack-python-api 2.5.4 test/unit on {kind}: {counts}")
    wrong = verdict(found, KNOWN_FAILURES, SUITE_SIZE)
    assert not wrong, "\n".join(wrong)
