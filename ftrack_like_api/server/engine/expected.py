"""An update's ``expected`` values: refused with ``conflict`` when what is stored is not what the caller read.

``update`` may carry ``expected`` — the wire values its caller last read for some
attributes. Each is compared with the stored row before anything is written; the first that
differs refuses the operation (code ``conflict``, with ``error.conflict`` naming the attribute
and both values), so a script that read a value before someone else changed it does not
overwrite their change unknowingly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...exceptions import ValidationError
from ...schema import EntityType, Kind
from .values import to_wire

if TYPE_CHECKING:
    from .writer import Writer

__all__ = ["check_expected"]


def check_expected(writer: Writer, entity_type: EntityType, current: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """Refuse with ``conflict`` when a stored value is not the one ``expected`` (wire values) says."""
    for name, value in expected.items():
        attribute = writer._attribute(entity_type, name)
        if attribute.computed:
            raise ValidationError(f"{entity_type.name}.{name} is computed: nothing to expect of it", "computed")
        if attribute.kind is Kind.SCALAR:
            wanted = writer._coerce(entity_type, attribute, value)
            found = current.get(name)
            if _same(attribute.type, wanted, found):
                continue
            shown_wanted, shown_found = to_wire(attribute.type, wanted), to_wire(attribute.type, found)
        elif attribute.kind is Kind.REFERENCE:
            wanted_keys = writer._reference(entity_type, attribute, value)
            found_keys = {local: current.get(local) for local in attribute.via}
            if wanted_keys == found_keys:
                continue
            target = writer.compiler.target(attribute)
            shown_wanted, shown_found = (
                None if all(v is None for v in keys.values())
                else {"__entity_type__": target.name, **dict(zip(target.primary_key, keys.values()))}
                for keys in (wanted_keys, found_keys)
            )  # fmt: skip
        else:
            raise ValidationError(
                f"{entity_type.name}.{name}: expected takes plain attributes and references, not a {attribute.kind.value}",
                "unsupported",
            )
        error = ValidationError(
            f"{entity_type.name}.{name} changed meanwhile: expected {_show(shown_wanted)}, "
            f"found {_show(shown_found)}; nothing was changed",
            "conflict",
        )
        error.conflict = {"attribute": name, "expected": shown_wanted, "current": shown_found}
        raise error


def _same(kind: str | None, expected: Any, stored: Any) -> bool:
    """Whether two stored values are equal; JSON (``variable``) compared as the values it holds."""
    if kind == "variable" and isinstance(expected, str) and isinstance(stored, str):
        try:
            return bool(json.loads(expected) == json.loads(stored))
        except ValueError:
            pass
    return bool(expected == stored)


def _show(value: Any) -> str:
    """A wire value as an error message shows it: JSON, or 'empty'."""
    if value is None:
        return "empty"
    if isinstance(value, Mapping) and "__type__" in value:
        value = value.get("value")
    return json.dumps(value)
