"""Questions about an entity that are not its attributes."""

from __future__ import annotations

from typing import Any

from .entity import Entity
from .symbol import State

__all__ = ["identity", "primary_key", "state"]


def identity(entity: Entity) -> tuple[str, tuple[Any, ...]]:
    """(type, primary key values): what the session knows the entity by."""
    return entity.identity


def primary_key(entity: Entity) -> dict[str, Any]:
    """The primary key attributes and their values."""
    return entity.primary_key


def state(entity: Entity) -> State:
    """Created, modified or deleted in its session and not committed yet, or unchanged.

    A lookup in the session's queue of changes, however many are pending.
    """
    return entity.session.state(entity)
