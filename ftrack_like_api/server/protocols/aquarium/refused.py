"""Aquarium's routes this server knows and does not serve, each refused with a JSON error that names it and says why.

Anything else unknown is a 404; these are a 501 (Not Implemented: the client raises its
``RuntimeError`` with the message), so a script learns what is missing rather than
guessing from "not found".
"""

from __future__ import annotations

__all__ = ["REFUSED"]

_TEMPLATES = ("templates are Aquarium's own hierarchy presets; this server has ftrack's task templates (TaskTemplate), "
              "which are not the same thing, and no item of type Template is applied")  # fmt: skip
_PERMISSIONS = ("permissions here are ftrack's project grants and security roles (ftrack-like user grant), not per-item "
                "shares: a user sees a project's items or none of them")  # fmt: skip

#: Path (under the mount, Starlette's syntax) -> why it is refused.
REFUSED: dict[str, str] = {
    "/items/{key}/template": _TEMPLATES,
    "/items/{key}/convertToTemplate": _TEMPLATES,
    "/templates/{rest:path}": _TEMPLATES,
    "/items/{key}/permissions": _PERMISSIONS,
    "/items/{key}/import/json": "importing a hierarchy from Aquarium's JSON export is not served: append its items",
    "/items/{key}/export/json": "Aquarium's JSON export is not served: query the hierarchy with meshQL",
    "/items/{key}/compare/{other}": "comparing two items is not served",
    "/items/{key}/path/{other}": "shortest paths between items are not served: traverse with meshQL",
    "/signin/verify": "two-factor sign-in is not served: sign in with a password or a personal token",
    "/users/{key}/admin": "administrators are made with ftrack-like's command line (user roles), not through this API",
}
