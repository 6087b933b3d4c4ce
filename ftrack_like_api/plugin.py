"""Plugins: Python files on plugin paths that define ``register(session, **kwargs)``.

Every ``*.py`` under each path (folders searched recursively, in name order) is
imported; if it defines ``register``, that is called with the session and those of the
plugin arguments its signature accepts — a warning names any it does not. A plugin that
fails to import or to register is logged with its traceback and skipped: one broken
plugin never stops a session.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import os
from typing import Any, Iterable, Mapping

__all__ = ["discover", "plugin_files"]

log = logging.getLogger(__name__)


def plugin_files(paths: Iterable[str]) -> list[str]:
    """Every ``*.py`` under ``paths`` (files or folders), in a stable order."""
    found = []
    for path in paths:
        path = os.path.expanduser(path)
        if os.path.isfile(path) and path.endswith(".py"):
            found.append(path)
            continue
        for folder, folders, files in os.walk(path):
            folders.sort()
            found += [os.path.join(folder, name) for name in sorted(files) if name.endswith(".py")]
    return found


def discover(paths: Iterable[str] | str | None, session: Any, arguments: Mapping[str, Any] | None = None) -> list[str]:
    """Import the plugins under ``paths`` and register each with ``session``; the files registered.

    ``paths`` may be one string of paths joined as the platform joins them, or None for
    ``FTRACK_EVENT_PLUGIN_PATH``.
    """
    if paths is None:
        paths = os.environ.get("FTRACK_EVENT_PLUGIN_PATH", "")
    if isinstance(paths, str):
        paths = [path for path in paths.split(os.pathsep) if path]
    registered = []
    for path in plugin_files(paths):
        name = "ftrack_like_api_plugin_" + hashlib.sha1(path.encode()).hexdigest()[:12]
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except Exception:
            log.exception("plugin %s failed to import; skipped", path)
            continue
        register = getattr(module, "register", None)
        if not callable(register):
            log.debug("%s has no register(); not a plugin", path)
            continue
        given = dict(arguments or {})
        accepted, dropped = _fit(register, given)
        if dropped:
            log.warning("plugin %s does not take %s; called without", path, ", ".join(sorted(dropped)))
        try:
            register(session, **accepted)
        except Exception:
            log.exception("plugin %s failed to register; skipped", path)
            continue
        registered.append(path)
    return registered


def _fit(function: Any, given: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return given, set()
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in given.items() if k in names}, set(given) - names
