"""The structure interface: a component (and a context) in, a resource identifier out."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from ..entity import Entity

__all__ = ["Structure"]


class Structure(abc.ABC):
    """Makes resource identifiers: ``prefix`` goes first, parts are joined by ``path_separator`` (``/``)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.path_separator = "/"

    @abc.abstractmethod
    def get_resource_identifier(self, entity: Entity, context: Mapping[str, Any] | None = None) -> str:
        """Where ``entity`` (a component) goes; ``context`` may say more (``source_resource_identifier``)."""

    def _get_sequence_expression(self, sequence: Entity) -> str:
        """``%04d`` for a sequence padded to four digits, ``%d`` for one that is not padded."""
        padding = sequence["padding"]
        return f"%0{padding}d" if padding else "%d"
