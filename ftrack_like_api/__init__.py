"""ftrack_like_api: production tracking for film, TV and games studios.

Importing the package is cheap: ``Session``, the query parser, the server and
everything else load when first used.
"""

from __future__ import annotations

from .exceptions import (
    AttributeValueError,
    ConflictError,
    DatabaseError,
    Error,
    EventHubConnectionError,
    ExpressionError,
    FileTransferError,
    ImmutableAttributeError,
    MultipleResultsFoundError,
    NoResultFoundError,
    ParameterError,
    QueryError,
    SchemaError,
    ServerError,
    TransportError,
    UnknownAttributeError,
    ValidationError,
)
from .version import __version__

__all__ = [
    "AttributeValueError",
    "ConflictError",
    "DatabaseError",
    "Error",
    "EventHubConnectionError",
    "ExpressionError",
    "FileTransferError",
    "ImmutableAttributeError",
    "MultipleResultsFoundError",
    "NoResultFoundError",
    "ParameterError",
    "QueryError",
    "SchemaError",
    "ServerError",
    "Session",
    "SessionAuthentication",
    "TransportError",
    "UnknownAttributeError",
    "ValidationError",
    "__version__",
    "signin",
]


def __getattr__(name: str) -> object:
    # Session loads the query parser and more: only when a script asks for it.
    if name == "Session":
        from .session import Session

        return Session
    if name in ("SessionAuthentication", "signin"):  # requests loads only for these
        from . import authentication

        return getattr(authentication, name)
    raise AttributeError(f"module 'ftrack_like_api' has no attribute {name!r}")
