"""Structures: where a location puts a component, as a resource identifier.

A structure answers one question, ``get_resource_identifier(component, context)``;
the location's accessor stores the data there. ftrack's structures, by ftrack's
module names: :class:`~.standard.StandardStructure` (the project's hierarchy),
:class:`~.id.IdStructure` (the component's id), :class:`~.origin.OriginStructure`
(the path it came from), :class:`~.entity_id.EntityIdStructure` (the id as it is).
"""

from __future__ import annotations

from .base import Structure
from .entity_id import EntityIdStructure
from .id import IdStructure
from .origin import OriginStructure
from .standard import StandardStructure

__all__ = ["EntityIdStructure", "IdStructure", "OriginStructure", "StandardStructure", "Structure"]
