"""The docs cannot drift: every public name is in the reference, every page is linked."""

from __future__ import annotations

import importlib
import io
import pathlib
import pkgutil
import re
import sys
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Modules whose names the reference need not show, and why. Every other module of the
# package with an ``__all__`` is public: a new module is public until it is listed here.
INTERNAL = {
    "ftrack_like_api.cli": "a program: reference/cli.rst shows its --help",
    "ftrack_like_api.cli_events": "a program: reference/cli.rst shows its --help (listen, events)",
    "ftrack_like_api.cli_files": "a program: reference/cli.rst shows its --help (upload, download)",
    "ftrack_like_api.cli_ops": "a program: reference/cli.rst shows its --help (backup, restore)",
    "ftrack_like_api.event.connection": "the event hub's own machinery (its threads)",
    "ftrack_like_api.server.events.listeners": "the server's inside, reached through create_app's /events endpoints",
    "ftrack_like_api.demo": "a program: ftrack-like demo",
    "ftrack_like_api.query.__main__": "a program: python -m ftrack_like_api.query",
    "ftrack_like_api.loader": "the Session's own machinery",
    "ftrack_like_api.merge": "the Session's own machinery",
    "ftrack_like_api.collector": "the Session's own machinery (Session(pause_gc=...))",
    "ftrack_like_api.entity.base": "re-exported by ftrack_like_api.entity",
    "ftrack_like_api.entity.collection": "re-exported by ftrack_like_api.entity",
    "ftrack_like_api.entity.factory": "re-exported by ftrack_like_api.entity",
    "ftrack_like_api.entity.state": "re-exported by ftrack_like_api.entity",
    "ftrack_like_api.entity.layout": "how an entity stores its values; read them through EntityState",
    "ftrack_like_api.query.bind": "re-exported by ftrack_like_api.query",
    "ftrack_like_api.query.build": "re-exported by ftrack_like_api.query",
    "ftrack_like_api.query.render": "re-exported by ftrack_like_api.query",
    "ftrack_like_api.transport.base": "re-exported by ftrack_like_api.transport",
    "ftrack_like_api.transport.http": "re-exported by ftrack_like_api.transport",
    "ftrack_like_api.transport.local": "re-exported by ftrack_like_api.transport",
    "ftrack_like_api.transport.mock": "re-exported by ftrack_like_api.transport",
    "ftrack_like_api.transport.files": "re-exported by ftrack_like_api.transport (FileChannel)",
    "ftrack_like_api.transport.http_files": "re-exported by ftrack_like_api.transport (HttpFileChannel)",
    "ftrack_like_api.server.engine": "the server's inside, reached through Backend",
    "ftrack_like_api.server.auth": "the server's inside, reached through Backend and create_app",
    "ftrack_like_api.server.protocols": "the server's inside, reached through create_app",
    "ftrack_like_api.server.gate": "the server's inside, reached through create_app",
    "ftrack_like_api.server.files.access": "the server's inside, reached through Backend.files",
    "ftrack_like_api.server.files.actions": "the server's inside: the engine actions protocol.rst lists",
    "ftrack_like_api.server.files.cleanup": "the server's inside, reached through Files.clean_up",
    "ftrack_like_api.server.files.settings": "a program's options: reference/cli.rst shows serve's --help",
    "ftrack_like_api.server.files.signing": "the server's inside, reached through Backend.files",
    "ftrack_like_api.server.files.tables": "the server's inside, reached through Backend",
    "ftrack_like_api.server.files.uploads": "the server's inside, reached through Backend.files",
    "ftrack_like_api.server.events.tables": "the server's inside: the event log's tables",
    "ftrack_like_api.server.events.json_text": "the server's inside: how ftrack.update payloads are written",
    "ftrack_like_api.server.events.parents": "the server's inside: the parents of ftrack.update entries",
}


def internal(name: str) -> bool:
    return any(name == module or name.startswith(module + ".") for module in INTERNAL)


def public_modules() -> list[types.ModuleType]:
    import ftrack_like_api

    names = ["ftrack_like_api"] + [
        info.name for info in pkgutil.walk_packages(ftrack_like_api.__path__, "ftrack_like_api.")
        if ".migrations" not in info.name
    ]
    modules = [importlib.import_module(name) for name in names if not internal(name)]
    return [module for module in modules if hasattr(module, "__all__")]


def resolve(dotted: str) -> object:
    """The object a documented name stands for, or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            found = getattr(found, part, None)
        return found
    return None


@pytest.fixture(scope="module")
def documented(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every Python name the built docs describe (Sphinx's own inventory of them)."""
    sphinx_application = pytest.importorskip("sphinx.application")
    pytest.importorskip("sqlalchemy", reason="the reference documents the server")
    out = tmp_path_factory.mktemp("docs")
    app = sphinx_application.Sphinx(
        str(DOCS), str(DOCS), str(out / "out"), str(out / "doctrees"), "dummy",
        status=io.StringIO(), warning=io.StringIO(), freshenv=True,
    )
    app.build()
    domain = app.env.get_domain("py")
    return {name for name, *_ in domain.get_objects()}


def test_every_public_name_is_in_the_reference(documented):
    described = {id(resolve(name)) for name in documented}
    missing = []
    for module in public_modules():
        for name in module.__all__:
            value = getattr(module, name)
            if f"{module.__name__}.{name}" in documented:
                continue
            if isinstance(value, (type, types.FunctionType, types.ModuleType)) and id(value) in described:
                continue  # re-exported: documented where it is defined
            missing.append(f"{module.__name__}.{name}")
    assert not missing, f"not in docs/reference/api.rst: {missing}"


def test_every_internal_module_exists():
    for name in INTERNAL:
        importlib.import_module(name)


def test_every_command_is_in_the_command_line_reference():
    pytest.importorskip("sqlalchemy", reason="the command line needs the server extra")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from cli_help import commands
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    from ftrack_like_api.cli import parser

    names = [name for name, _ in commands(parser())]
    assert "ftrack-like user grant" in names and "ftrack-like serve" in names


def test_every_page_is_in_a_section():
    index = (DOCS / "index.rst").read_text()
    pages = {str(path.relative_to(DOCS).with_suffix("")) for path in DOCS.rglob("*.rst")} - {"index"}
    listed = set(re.findall(r"^   (\S+)$", index, re.M))
    assert pages == listed
    for page in pages - {"development"}:
        assert page.split("/")[0] in {"tutorial", "howto", "reference", "explanation"}, page


def test_the_readme_names_pages_that_exist():
    readme = (ROOT / "README.rst").read_text()
    named = re.findall(r"``(docs/[\w/.-]+\.rst)``", readme)
    assert named
    assert [path for path in named if not (ROOT / path).exists()] == []
