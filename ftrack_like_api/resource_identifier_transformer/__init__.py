"""Resource identifier transformers: change a location's resource identifiers on their way to and from the server.

Set one as ``location.resource_identifier_transformer``: ``encode`` runs before a
resource identifier is stored, ``decode`` after one is read. ftrack's module, by its name.
"""

from __future__ import annotations

from .base import ResourceIdentifierTransformer

__all__ = ["ResourceIdentifierTransformer"]
