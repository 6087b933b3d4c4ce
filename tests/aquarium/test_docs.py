"""docs/howto/from-aquarium.rst and from-lagoon.rst: their Python blocks run as shown, with the official clients."""

import pathlib
import re
import subprocess
import textwrap

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from ftrack_like_api.server import Backend  # noqa: E402

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "howto"
#: The URL and password the pages show, replaced by the served studio's.
SHOWN_URL, PASSWORD = "http://127.0.0.1:8000/", "correct horse battery"


def blocks(page):
    return "\n".join(textwrap.dedent(b) for b in re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", (DOCS / page).read_text()))


@pytest.mark.parametrize(("page", "client"), [("from-aquarium.rst", "aquarium_python"), ("from-lagoon.rst", "lagoon_python")])
def test_the_page_runs_with_the_official_client(page, client, request, serve, tmp_path_factory):
    python = request.getfixturevalue(client)
    folder = tmp_path_factory.mktemp("page")
    database = f"sqlite:///{folder / 'studio.db'}"
    with Backend.from_url(database) as backend:
        backend.auth.set_password("admin", PASSWORD)
    code = blocks(page)
    assert SHOWN_URL in code
    with serve(database, "--storage", str(folder / "files")) as url:
        ran = subprocess.run([python, "-c", code.replace(SHOWN_URL, url + "/")], cwd=folder, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
