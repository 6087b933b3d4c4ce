"""``additional_filter_presets``: ShotGrid's ``LATEST`` preset on Versions.

``{"preset_name": "LATEST", "latest_by": "ENTITIES_CREATED_AT"}`` keeps, of the Versions the
filters find, the latest of each entity (the Shot, Asset … a Version is of: our AssetVersion's
asset's parent) among them, by when each was created (then by id), as ShotGrid's does (its
own suite finds one Version by id with it). One query reads the Versions found, their
entities and times; the page is then read with the latest ones' ids among its conditions. ShotGrid's other ``latest_by``
(by pipeline step) is refused naming it, as are other presets and malformed ones.
"""

from __future__ import annotations

from typing import Any, Callable

from ....exceptions import ValidationError
from ....query import ast, render
from .mapping import SgType

__all__ = ["narrowed"]

#: What ``LATEST`` groups Versions by, and orders them by, in our AssetVersion.
_ENTITY, _CREATED = "asset.context_id", "date"


def narrowed(sg_type: SgType, where: ast.Expression | None, presets: Any,
             query: Callable[[str], list[dict[str, Any]]]) -> ast.Expression | None:  # fmt: skip
    """``where`` narrowed by the presets; ``query(text)`` runs a query of ours."""
    if not isinstance(presets, list) or not all(isinstance(p, dict) for p in presets):
        raise ValidationError(f"additional_filter_presets is a list of {{'preset_name', …}}, not {presets!r}", "bad_filter")
    for preset in presets:
        name = preset.get("preset_name")
        if name != "LATEST":
            raise ValidationError(f"Unknown filter preset {name!r} (ShotGrid's is LATEST)", "bad_filter")
        if sg_type.name != "Version":
            raise ValidationError(f"The LATEST filter preset is for Versions here, not {sg_type.name}", "bad_filter")
        if preset.get("latest_by") != "ENTITIES_CREATED_AT":
            raise ValidationError(f"LATEST by {preset.get('latest_by')!r} is not served here (ENTITIES_CREATED_AT is)",
                                  "bad_filter")  # fmt: skip
        where = _latest(sg_type, where, query)
    return where


def _latest(sg_type: SgType, where: ast.Expression | None, query: Callable[[str], list[dict[str, Any]]]) -> ast.Expression:
    rows = query(render(ast.Query(sg_type.ours, (ast.Path.of("asset_id"), ast.Path.of(_ENTITY), ast.Path.of(_CREATED)), where)))
    of = _entities(rows)
    latest: dict[Any, tuple[Any, str]] = {}
    for row in rows:
        key = (str(row.get(_CREATED)), row["id"])
        entity = of.get(row.get("asset_id"))
        if entity not in latest or key > latest[entity]:
            latest[entity] = key
    ids = ast.Membership(ast.Path.of("id"), tuple(ast.Literal(key[1]) for key in latest.values()))
    return ids if where is None else ast.And((where, ids))


def _entities(rows: list[dict[str, Any]]) -> dict[Any, Any]:
    """Each asset's entity (its parent), by the asset's id: an answer spells an asset out once (later rows
    with the same asset carry its id only)."""
    found: dict[Any, Any] = {}
    for row in rows:
        asset = row.get("asset")
        if isinstance(asset, dict) and "context_id" in asset:
            found[asset.get("id", row.get("asset_id"))] = asset["context_id"]
        found.setdefault(row.get("asset_id"), None)
    return found
