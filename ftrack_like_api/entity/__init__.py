"""Entities and the classes built for them from the server's schemas."""

from __future__ import annotations

from .base import Entity
from .collection import Collection, KeyValueMappedCollection
from .factory import build_types, mixin
from .state import EntityState

__all__ = ["Collection", "Entity", "EntityState", "KeyValueMappedCollection", "build_types", "mixin"]
