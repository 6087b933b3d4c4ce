"""ftrack_like_api: production tracking for film, TV and games studios.

Importing the package is cheap: ``Session``, the query parser, the server and
everything else load when first used.
"""

from __future__ import annotations

from .exceptions import (
    AccessorContainerNotEmptyError,
    AccessorError,
    AccessorFilesystemPathError,
    AccessorOperationFailedError,
    AccessorParentResourceNotFoundError,
    AccessorPermissionDeniedError,
    AccessorResourceError,
    AccessorResourceIdentifierError,
    AccessorResourceInvalidError,
    AccessorResourceNotFoundError,
    AccessorUnsupportedOperationError,
    AttributeValueError,
    ComponentInLocationError,
    ComponentNotInAnyLocationError,
    ComponentNotInLocationError,
    ConflictError,
    DatabaseError,
    Error,
    EventHubConnectionError,
    ExpressionError,
    ImmutableAttributeError,
    LocationError,
    MultipleResultsFoundError,
    NoResultFoundError,
    ParameterError,
    QueryError,
    SchemaError,
    ServerError,
    StructureError,
    TransportError,
    UnknownAttributeError,
    ValidationError,
)
from .version import __version__

__all__ = [
    "AccessorContainerNotEmptyError",
    "AccessorError",
    "AccessorFilesystemPathError",
    "AccessorOperationFailedError",
    "AccessorParentResourceNotFoundError",
    "AccessorPermissionDeniedError",
    "AccessorResourceError",
    "AccessorResourceIdentifierError",
    "AccessorResourceInvalidError",
    "AccessorResourceNotFoundError",
    "AccessorUnsupportedOperationError",
    "AttributeValueError",
    "ComponentInLocationError",
    "ComponentNotInAnyLocationError",
    "ComponentNotInLocationError",
    "ConflictError",
    "DatabaseError",
    "Error",
    "EventHubConnectionError",
    "ExpressionError",
    "ImmutableAttributeError",
    "LocationError",
    "MultipleResultsFoundError",
    "NoResultFoundError",
    "ParameterError",
    "QueryError",
    "SchemaError",
    "ServerError",
    "Session",
    "SessionAuthentication",
    "StructureError",
    "TransportError",
    "UnknownAttributeError",
    "ValidationError",
    "__version__",
    "mixin",
    "signin",
]


def __getattr__(name: str) -> object:
    # Session loads the query parser and more: only when a script asks for it.
    if name == "Session":
        from .session import Session

        return Session
    if name == "mixin":  # ftrack's ftrack_api.mixin(entity, cls): the entity classes load with it
        from .entity import mixin

        return mixin
    if name in ("SessionAuthentication", "signin"):  # requests loads only for these
        from . import authentication

        return getattr(authentication, name)
    raise AttributeError(f"module 'ftrack_like_api' has no attribute {name!r}")
