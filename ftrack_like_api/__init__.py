"""ftrack_like_api: production tracking for film, TV and games studios.

Importing the package is cheap: the query parser, the server and everything else
load when first used.
"""

from __future__ import annotations

from .exceptions import (
    AttributeValueError,
    Error,
    ExpressionError,
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
    "Error",
    "ExpressionError",
    "ImmutableAttributeError",
    "MultipleResultsFoundError",
    "NoResultFoundError",
    "ParameterError",
    "QueryError",
    "SchemaError",
    "ServerError",
    "TransportError",
    "UnknownAttributeError",
    "ValidationError",
    "__version__",
]
