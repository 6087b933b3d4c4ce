"""What an ``ftrack.update`` entry says changed: (old, new) by the name ftrack's listeners read.

Moved out of :mod:`.updates` (which gathers a batch's changes into events) unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ...schema import Kind

__all__ = ["as_text", "changes_told", "shown", "value_change"]


def changes_told(
    shown: Mapping[str, str], action: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, tuple[Any, Any]]:
    """What an update or a remove told, by the name told: (old, new) as stored."""
    changes: dict[str, tuple[Any, Any]] = {}
    if action == "remove":
        for name, old in (before or {}).items():
            shown_as = shown.get(name)
            if shown_as is not None and old is not None:
                changes[shown_as] = (old, None)
        return changes
    before = before or {}
    for name, new in (after or {}).items():
        shown_as = shown.get(name)
        old = before.get(name)
        if shown_as is not None and old != new:
            changes[shown_as] = (old, new)
    return changes


def value_change(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, tuple[Any, Any]] | None:
    """A custom attribute value's change under its key, values as ftrack's payloads carry them (text)."""
    row = after if before is None else before
    key = (row or {}).get("key")
    old = as_text((before or {}).get("value"))
    new = None if after is None else as_text(after.get("value", (before or {}).get("value")))
    if key is None or old == new:
        return None
    return {key: (old, new)}


def as_text(stored: Any) -> str | None:
    """A stored custom attribute value (JSON text) as ftrack's events carry it: text, booleans as "1"/"0"."""
    if stored is None:
        return None
    try:
        value = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return str(stored)
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value) if not isinstance(value, str) else value


def shown(attribute: Any) -> bool:
    """Whether a value goes into ``changes``: a visible stored attribute."""
    return attribute is not None and attribute.kind is Kind.SCALAR and not attribute.hidden and not attribute.computed
