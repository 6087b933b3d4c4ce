"""``additional_filter_presets``: ShotGrid's ``LATEST`` preset on Versions.

``{"preset_name": "LATEST", "latest_by": "ENTITIES_CREATED_AT"}`` keeps, of the Versions the
filters find, the latest of each entity (the Shot, Asset … a Version is of: our AssetVersion's
asset's parent) among them, by when each was created (then by id), as ShotGrid's does (its
own suite finds one Version by id with it). One query reads the Versions found, their
entities and times; the page is then read with the latest ones' ids among its conditions.

``latest_by: BY_PIPELINE_STEP_NUMBER_AND_ENTITIES_CREATED_AT`` keeps, of each entity's
Versions found, the one whose task's step (``sg_task.step``: our task's type) is the furthest
along — the highest ``list_order``, our type's ``sort`` — and of those the latest made; a
Version with no task (or a task with no step) comes before every step. Two more queries read
the tasks' types and the types' order. Other ``latest_by`` values and presets, and malformed
ones, are refused naming them.
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
        latest_by = preset.get("latest_by")
        if latest_by not in _LATEST_BY:
            raise ValidationError(f"LATEST by {latest_by!r} is not served here (one of {', '.join(_LATEST_BY)})",
                                  "bad_filter")  # fmt: skip
        where = _latest(sg_type, where, query, by_step=latest_by != "ENTITIES_CREATED_AT")
    return where


#: ShotGrid's ``latest_by`` values for Versions.
_LATEST_BY = ("ENTITIES_CREATED_AT", "BY_PIPELINE_STEP_NUMBER_AND_ENTITIES_CREATED_AT")


def _latest(sg_type: SgType, where: ast.Expression | None, query: Callable[[str], list[dict[str, Any]]],
            by_step: bool) -> ast.Expression:  # fmt: skip
    paths = ("asset_id", _ENTITY, _CREATED, *(("task_id",) if by_step else ()))
    rows = query(render(ast.Query(sg_type.ours, tuple(ast.Path.of(p) for p in paths), where)))
    of = _entities(rows)
    steps = _step_orders(rows, query) if by_step else {}
    latest: dict[Any, tuple[Any, ...]] = {}
    for row in rows:
        key = (steps.get(row.get("task_id"), -1), str(row.get(_CREATED)), row["id"])
        entity = of.get(row.get("asset_id"))
        if entity not in latest or key > latest[entity]:
            latest[entity] = key
    ids = ast.Membership(ast.Path.of("id"), tuple(ast.Literal(key[-1]) for key in latest.values()))
    return ids if where is None else ast.And((where, ids))


def _step_orders(rows: list[dict[str, Any]], query: Callable[[str], list[dict[str, Any]]]) -> dict[Any, int]:
    """Each task's step's place in the pipeline (its type's ``sort``), by the task's id: tasks with none left out."""
    tasks = tuple(dict.fromkeys(row["task_id"] for row in rows if row.get("task_id") is not None))
    if not tasks:
        return {}
    typed = query(render(ast.Query("Task", (ast.Path.of("type_id"),), ast.Membership(ast.Path.of("id"),
                                                                                     tuple(ast.Literal(t) for t in tasks)))))  # fmt: skip
    kinds = tuple(dict.fromkeys(row["type_id"] for row in typed if row.get("type_id") is not None))
    if not kinds:
        return {}
    orders = query(render(ast.Query("Type", (ast.Path.of("sort"),), ast.Membership(ast.Path.of("id"),
                                                                                   tuple(ast.Literal(k) for k in kinds)))))  # fmt: skip
    sort = {row["id"]: int(row["sort"]) for row in orders if row.get("sort") is not None}
    return {row["id"]: sort[row["type_id"]] for row in typed if sort.get(row.get("type_id")) is not None}


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
