"""ftrack_like_api: production tracking for film, TV and games studios.

Importing the package is cheap: ``Session``, the query parser, the server and
everything else load when first used — the modules a plugin written for ftrack's client
reaches through the package (``ftrack_api.accessor.disk.DiskAccessor``,
``ftrack_api.structure.standard``, ``ftrack_api.symbol``, ``ftrack_api.exception``)
included, so ``import ftrack_like_api as ftrack_api`` is the one line such a plugin changes.
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
    AuthenticationError,
    ComponentInLocationError,
    ComponentNotInAnyLocationError,
    ComponentNotInLocationError,
    ConflictError,
    CredentialStoreError,
    DatabaseError,
    Error,
    EventHubConnectionError,
    ExpressionError,
    FileTransferError,
    ImmutableAttributeError,
    LocationError,
    MultipleResultsFoundError,
    NoResultFoundError,
    ParameterError,
    QueryError,
    SchemaError,
    ServerError,
    SessionExpiredError,
    StructureError,
    TransportError,
    UnknownAttributeError,
    ValidationError,
)
from .logs import configure_from_environment as _configure_logging
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
    "AuthenticationError",
    "ComponentInLocationError",
    "ComponentNotInAnyLocationError",
    "ComponentNotInLocationError",
    "ConflictError",
    "CredentialStoreError",
    "DatabaseError",
    "Error",
    "EventHubConnectionError",
    "ExpressionError",
    "FileTransferError",
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
    "SessionExpiredError",
    "StructureError",
    "TransportError",
    "UnknownAttributeError",
    "ValidationError",
    "__version__",
    "mixin",
    "signin",
]

_configure_logging()  # FTRACK_LIKE_LOG=debug (or a file's path): the package's logging, without code

#: Modules loaded on first use, by the names ftrack's client gives them (its ``exception`` is our ``exceptions``).
_MODULES = {name: name for name in ("accessor", "data", "entity", "event", "inspection", "resource_identifier_transformer",
                                          "structure", "symbol")}
_MODULES["exception"] = "exceptions"


def __getattr__(name: str) -> object:
    # Session loads the query parser and more: only when a script asks for it.
    if name == "Session":
        from .session import Session

        return Session
    if name in _MODULES:
        import importlib

        return importlib.import_module(f".{_MODULES[name]}", __name__)
    if name == "mixin":  # ftrack's ftrack_api.mixin(entity, cls): the entity classes load with it
        from .entity import mixin

        return mixin
    if name in ("SessionAuthentication", "signin"):  # requests loads only for these
        from . import authentication

        return getattr(authentication, name)
    raise AttributeError(f"module 'ftrack_like_api' has no attribute {name!r}")
