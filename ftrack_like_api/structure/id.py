"""Paths from the component's id, four folders deep, so no folder holds millions of entries."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

from .base import Structure

if TYPE_CHECKING:
    from ..entity import Entity

__all__ = ["IdStructure"]


class IdStructure(Structure):
    """``1/2/3/4/56789….exr`` from the id ``123456789…`` and the file type.

    A container's members go inside it (``…/56789…/<member id>.exr``); a sequence's
    members are ``file.<index><file type>`` beside ``file.%04d.exr``.
    """

    def _folders(self, entity: Entity) -> list[str]:
        key = str(entity["id"])
        return ([self.prefix] if self.prefix else []) + list(key[:4])

    def get_resource_identifier(self, entity: Entity, context: Mapping[str, Any] | None = None) -> str:
        if entity.entity_type not in ("FileComponent", "SequenceComponent", "ContainerComponent"):
            raise NotImplementedError(f"No resource identifier for {entity!r}: not a kind of component this structure knows")
        key, file_type = str(entity["id"]), entity["file_type"] or ""
        if entity.entity_type == "FileComponent":
            container = entity["container"]
            if container:
                path = self.get_resource_identifier(container)
                if container.entity_type == "SequenceComponent":
                    parts = [os.path.dirname(path), f"file.{entity['name']}{file_type}"]
                else:
                    parts = [path, f"{key}{file_type}"]
            else:
                parts = self._folders(entity) + [f"{key[4:]}{file_type}"]
        elif entity.entity_type == "SequenceComponent":
            parts = self._folders(entity) + [key[4:], f"file.{self._get_sequence_expression(entity)}{file_type}"]
        elif entity["container"]:  # a container inside a container goes inside it
            parts = [self.get_resource_identifier(entity["container"]), key]
        else:
            parts = self._folders(entity) + [key[4:]]
        return self.path_separator.join(parts).strip("/")
