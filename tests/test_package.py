"""The package's shape: public names, and that the local transport loads the server lazily."""

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


def is_public(name: str, value: object) -> bool:
    return not name.startswith("_") and not inspect.ismodule(value) and not isinstance(value, __future__._Feature)


def imported_modules(module: str, lazy: bool = True) -> set[str]:
    """The package modules ``module`` imports; with ``lazy=False``, only those imported at load time.

    Imports under ``if TYPE_CHECKING:`` never run and are not counted.
    """
    path = PACKAGE.joinpath(*module.split(".")[1:])
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    is_package = source.name == "__init__.py"
    tree = ast.parse(source.read_text(), str(source))
    runtime = [
        node for node in tree.body
        if not (isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING")
    ]  # fmt: skip
    found = set()
    for statement in runtime:
        if not lazy and isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            nodes = [n for n in ast.walk(statement) if n is statement or not _in_function(statement, n)]
        else:
            nodes = list(ast.walk(statement))
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                    target = ".".join(base + ([node.module] if node.module else []))
                    submodules = {f"{target}.{a.name}" for a in node.names if importable(f"{target}.{a.name}")}
                    # `from .. import symbol` imports the module symbol, not the package's facade.
                    found.update(submodules or {target})
                elif node.module:
                    found.add(node.module)
    return {name for name in found if name.startswith("ftrack_like_api") and importable(name)}


def _in_function(root: ast.AST, node: ast.AST) -> bool:
    """Whether ``node`` sits inside a function body below ``root`` (a class's methods included)."""
    for child in ast.walk(root):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child is not root:
            if any(inner is node for inner in ast.walk(child)):
                return True
    return isinstance(root, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not root


def importable(name: str) -> bool:
    relative = name.split(".")[1:]
    path = PACKAGE.joinpath(*relative) if relative else PACKAGE
    return path.is_dir() or path.with_suffix(".py").exists()


#: "Only the local transport touches the server package, and lazily" (ARCHITECTURE.md). Which
#: modules may import which is import-linter's to check (`lint-imports`, pyproject.toml); when
#: an import runs is this test's.
LAZY_SERVER_IMPORT = "ftrack_like_api.transport.local"


def is_server(module: str) -> bool:
    return module == "ftrack_like_api.server" or module.startswith("ftrack_like_api.server.")


def test_the_local_transport_imports_the_server_only_when_used():
    assert any(is_server(name) for name in imported_modules(LAZY_SERVER_IMPORT))
    assert not any(is_server(name) for name in imported_modules(LAZY_SERVER_IMPORT, lazy=False))


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
    lazy = {"Session", "SessionAuthentication", "mixin", "signin"}  # loaded on first use
    assert public | lazy | {"__version__"} == set(ftrack_like_api.__all__)
    assert ftrack_like_api.Session.__module__ == "ftrack_like_api.session"
