"""A quick look at an entity in a shell: ``print(format(task))``."""

from __future__ import annotations

from typing import Any, Iterable

from .entity import Collection, Entity, EntityState, KeyValueMappedCollection
from .schema import Kind
from .symbol import NOT_SET

__all__ = ["format"]


def format(  # noqa: A001 - the name a shell user reaches for
    entity: Entity, attributes: Iterable[str] | None = None, recursive: bool = False, indent: int = 0
) -> str:
    """An entity and its values, one per line.

    Values already known are shown as they are; ``attributes`` names what to show (and
    fetch, when it was never fetched); without it, every value known. With
    ``recursive``, referenced entities are shown with their values too.
    """
    pad = "  " * indent
    lines = [f"{pad}{entity!r}"]
    state = EntityState(entity)
    names = list(attributes) if attributes is not None else [
        name for name in entity.schema.attributes if not state.missing(name)
    ]  # fmt: skip
    width = max((len(name) for name in names), default=0)
    for name in names:
        value = entity[name]
        attribute = entity.schema.attributes[name]
        if recursive and isinstance(value, Entity):
            lines.append(f"{pad}  {name}:")
            lines.append(format(value, recursive=False, indent=indent + 2))
            continue
        lines.append(f"{pad}  {name.ljust(width)}  {_show(value, attribute.kind)}")
    return "\n".join(lines)


def _show(value: Any, kind: Kind) -> str:
    if value is NOT_SET:
        return "(not fetched)"
    if isinstance(value, KeyValueMappedCollection):
        return repr(dict(value))
    if isinstance(value, Collection):
        items = list(value)
        shown = ", ".join(repr(item) for item in items[:5])
        return f"[{shown}{', …' if len(items) > 5 else ''}] ({len(items)})"
    return repr(value)
