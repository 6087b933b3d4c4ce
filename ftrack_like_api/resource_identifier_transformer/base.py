"""The transformer interface, which passes resource identifiers through unchanged."""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["ResourceIdentifierTransformer"]


class ResourceIdentifierTransformer:
    """Encodes resource identifiers to store them, decodes them to use them; this one changes nothing.

    Subclass it to store, say, a path's parts as key-value pairs and compose the path
    again when it is read. ``context`` carries the ``component``.
    """

    def __init__(self, session: Any) -> None:
        self.session = session

    def encode(self, resource_identifier: str, context: Mapping[str, Any] | None = None) -> str:
        """``resource_identifier`` as it is to be stored."""
        return resource_identifier

    def decode(self, resource_identifier: str, context: Mapping[str, Any] | None = None) -> str:
        """``resource_identifier`` as it is to be used here."""
        return resource_identifier
