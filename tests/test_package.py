"""The package's shape: public names, and the import rule between layers (ARCHITECTURE.md)."""

import __future__
import ast
import importlib
import inspect
import pathlib
import pkgutil

import pytest

import ftrack_like_api

PACKAGE = pathlib.Path(ftrack_like_api.__file__).parent
MODULES = sorted(
    info.name for info in pkgutil.walk_packages([str(PACKAGE)], prefix="ftrack_like_api.")
)

# Which layer each module belongs to, by the longest matching prefix, and which
# layers each may import. `exceptions` and `symbol` are the base every layer stands on.
LAYER_OF = {
    "ftrack_like_api": "facade",
    "ftrack_like_api.exceptions": "base",
    "ftrack_like_api.symbol": "base",
    "ftrack_like_api.version": "base",
    "ftrack_like_api.query": "language",
    "ftrack_like_api.event.expression": "language",
    "ftrack_like_api.event": "client",
    "ftrack_like_api.wire": "wire",
    "ftrack_like_api.schema": "schema",
    "ftrack_like_api.server": "server",
}
MAY_IMPORT = {
    "base": {"base"},
    "language": {"base", "language"},
    "wire": {"base", "language", "wire"},
    "schema": {"base", "language", "wire", "schema"},
    "client": {"base", "language", "wire", "schema", "client"},
    "server": {"base", "language", "wire", "schema", "server"},
    "facade": {"base", "language", "wire", "schema", "client"},
}


def is_public(name: str, value: object) -> bool:
    return not name.startswith("_") and not inspect.ismodule(value) and not isinstance(value, __future__._Feature)


def layer(module: str) -> str:
    matches = [prefix for prefix in LAYER_OF if module == prefix or module.startswith(prefix + ".")]
    # Modules not named above are client modules (session, cache, entity …).
    return LAYER_OF[max(matches, key=len)] if matches else "client"


def imported_modules(module: str) -> set[str]:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    is_package = source.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
    return {name for name in found if name.startswith("ftrack_like_api") and importable(name)}


def importable(name: str) -> bool:
    relative = name.split(".")[1:]
    path = PACKAGE.joinpath(*relative) if relative else PACKAGE
    return path.is_dir() or path.with_suffix(".py").exists()


@pytest.mark.parametrize("module", MODULES)
def test_layers_import_only_what_they_may(module):
    own = layer(module)
    wrong = {name for name in imported_modules(module) if layer(name) not in MAY_IMPORT[own] and name != module}
    # A package's __init__ may import its own modules.
    wrong = {name for name in wrong if not name.startswith(module + ".")}
    assert not wrong, f"{module} ({own} layer) imports {sorted(wrong)}"


def test_the_layer_rule_catches_a_server_import_in_the_language():
    assert layer("ftrack_like_api.server.backend") not in MAY_IMPORT[layer("ftrack_like_api.query.build")]
    assert layer("ftrack_like_api.session") not in MAY_IMPORT["server"]


@pytest.mark.parametrize("module", ["ftrack_like_api", *MODULES])
def test_all_is_sorted_and_names_what_exists(module):
    loaded = importlib.import_module(module)
    names = getattr(loaded, "__all__", None)
    if names is None:
        defined = [n for n, v in vars(loaded).items() if is_public(n, v)]
        assert defined == [], f"{module} defines public names but no __all__"
        return
    assert list(names) == sorted(names)
    assert [n for n in names if not hasattr(loaded, n)] == []


def test_the_package_exports_every_public_exception():
    from ftrack_like_api import exceptions

    assert sorted(exceptions.__all__) == sorted(n for n in ftrack_like_api.__all__ if n in vars(exceptions))


def test_the_package_all_is_complete():
    public = {n for n, v in vars(ftrack_like_api).items() if is_public(n, v)}
    assert public | {"__version__"} == set(ftrack_like_api.__all__)
