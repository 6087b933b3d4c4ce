"""Every error the package raises, in one tree.

::

    Error                       base of everything raised on purpose here
     ├── SchemaError            an entity type or schema definition that cannot be used
     ├── ValidationError        an operation of a batch the server refuses: which one and why
     ├── ServerError            the server answered a batch with an error (client side)
     │    ├── ConflictError     a value changed since it was read (``check_conflicts``)
     │    └── AuthenticationError  the server did not accept the credentials
     │         └── SessionExpiredError  the sign-in token expired: sign in again
     ├── CredentialStoreError   the stored sign-in (keyring or file) could not be read or written
     ├── TransportError         the server could not be reached, or its answer not read
 │    └── EventHubConnectionError  the event hub is not connected (publish with on_error="raise")
     ├── FileTransferError      a file's bytes could not be moved: refused, not found, cut short
     ├── DatabaseError          the server's database could not be opened (server side)
     ├── NoResultFoundError     ``one()`` found nothing
     ├── MultipleResultsFoundError  ``one()`` found more than one
     ├── UnknownAttributeError  an entity has no such attribute (also a KeyError)
     ├── ImmutableAttributeError    an attribute that cannot be set (immutable or computed)
     ├── AttributeValueError    a value of the wrong kind for an attribute (also a TypeError)
     ├── QueryError             a query text that cannot be used: where and why
     │    ├── ParameterError    a bound parameter that is missing or cannot be a value
     │    └── ExpressionError   an event subscription expression that cannot be used
     ├── LocationError          a component could not be added to, found in or removed from a location
     │    ├── ComponentInLocationError     already there
     │    ├── ComponentNotInLocationError  not there
     │    └── ComponentNotInAnyLocationError  nowhere this session can reach
     ├── StructureError         a structure could not make a resource identifier for a component
     └── AccessorError          storage could not do what was asked (ftrack's names, below)
          ├── AccessorOperationFailedError
          │    ├── AccessorUnsupportedOperationError   this accessor cannot do that
          │    └── AccessorPermissionDeniedError
          ├── AccessorResourceIdentifierError
          │    └── AccessorFilesystemPathError   no path for it (outside the accessor's prefix)
          └── AccessorResourceError
               ├── AccessorResourceNotFoundError
               ├── AccessorParentResourceNotFoundError
               ├── AccessorResourceInvalidError   a file where a folder was meant, or the reverse
               └── AccessorContainerNotEmptyError

Errors from libraries underneath (pyparsing, requests, sqlite3, psycopg) are translated
into these at the boundary; none of theirs escapes.
"""

from __future__ import annotations

from typing import Any, Sequence

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
    "SessionExpiredError",
    "StructureError",
    "TransportError",
    "UnknownAttributeError",
    "ValidationError",
]


class Error(Exception):
    """Base of every error raised by ``ftrack_like_api``."""


class SchemaError(Error):
    """An entity type, attribute or schema definition that cannot be used."""


class ValidationError(Error):
    """An operation that cannot be carried out: an unknown attribute, a wrong value, a missing entity …

    ``code`` names the kind of problem (``unknown_attribute``, ``wrong_type``,
    ``immutable``, ``missing_required``, ``duplicate_key``, ``missing_reference``,
    ``not_found``, ``still_referenced``, ``conflict`` …). In a batch, ``index``, ``action``,
    ``entity_type`` and ``entity_key`` say which operation it was. A ``conflict`` also
    has ``conflict``: ``{"attribute", "expected", "current"}`` (wire values).
    """

    def __init__(self, reason: str, code: str = "invalid") -> None:
        self.reason = reason
        self.code = code
        self.index: int | None = None
        self.action: str | None = None
        self.entity_type: str | None = None
        self.entity_key: object = None
        self.conflict: dict | None = None  # type: ignore[type-arg]
        super().__init__(reason)

    def at(self, index: int, action: str | None, entity_type: str | None, entity_key: object) -> ValidationError:
        """This error, placed at operation ``index`` of a batch."""
        self.index, self.action, self.entity_type, self.entity_key = index, action, entity_type, entity_key
        place = " ".join(str(part) for part in (action, entity_type) if part)
        key = f" {entity_key}" if entity_key not in (None, [], ()) else ""
        self.args = (f"Operation {index} ({place}{key}): {self.reason}",)
        return self


class ServerError(Error):
    """The server answered a batch with an error object; nothing of the batch was stored.

    ``exception`` is the server's name for it (``ValidationError``, ``PermissionError`` …),
    ``content`` its explanation, ``code`` its ``error_code``, and ``operation`` — when the
    server says — the failing operation: ``{"index", "action", "entity_type", "entity_key"}``.
    """

    def __init__(self, answer: dict) -> None:  # type: ignore[type-arg]
        self.answer = answer
        self.exception = str(answer.get("exception", "ServerError"))
        self.content = str(answer.get("content", ""))
        self.code = answer.get("error_code")
        operation = answer.get("operation")
        self.operation = operation if isinstance(operation, dict) else None
        super().__init__(f"{self.exception}: {self.content}" if self.content else self.exception)

    @classmethod
    def from_answer(cls, answer: dict) -> ServerError:  # type: ignore[type-arg]
        """The error a server's error object stands for: a :class:`ConflictError` for ``conflict``,
        an :class:`AuthenticationError` for credentials refused (:class:`SessionExpiredError` for
        ``session_expired``)."""
        if answer.get("error_code") == "conflict":
            return ConflictError(answer)
        if answer.get("error_code") == "session_expired":
            return SessionExpiredError(answer)
        if answer.get("exception") == "InvalidCredentialsError":
            return AuthenticationError(answer)
        return ServerError(answer)


class ConflictError(ServerError):
    """A value the commit expected to replace had changed on the server; nothing was stored.

    Raised when a ``Session(check_conflicts=True)`` commits over someone else's change.
    ``entity_type`` and ``entity_key`` name the entity, ``attribute`` the attribute,
    ``expected`` the value this session had read and ``current`` the server's (wire
    values: a reference as ``{"__entity_type__", <key>}``, None for empty). The session
    keeps its changes: read the value again, set it knowing the server's, and commit;
    or ``rollback()``.
    """

    def __init__(self, answer: dict) -> None:  # type: ignore[type-arg]
        super().__init__(answer)
        operation = self.operation or {}
        self.entity_type = operation.get("entity_type")
        self.entity_key = operation.get("entity_key")
        conflict = answer.get("conflict")
        conflict = conflict if isinstance(conflict, dict) else {}
        self.attribute = conflict.get("attribute")
        self.expected = conflict.get("expected")
        self.current = conflict.get("current")


class AuthenticationError(ServerError):
    """The server did not accept the credentials: a wrong key or password, a revoked or expired token.

    ``code`` says which: ``invalid_credentials``, ``throttled`` (too many failures: wait),
    ``session_expired``, ``token_expired`` (a personal token past its expiry), ``token_revoked``
    (a personal token its owner revoked).
    """


class SessionExpiredError(AuthenticationError):
    """The sign-in token expired (it lasts 12 hours): sign in again, and send again.

    ``ftrack-like login SERVER`` signs in again for every script; a script may catch this
    and sign in itself, or give its Session a ``reauthenticate`` callback.
    """


class CredentialStoreError(Error):
    """The stored sign-in could not be read or written: the keyring refused, or the file is unsafe."""


class TransportError(Error):
    """The server could not be reached, or what came back was not an answer."""


class EventHubConnectionError(TransportError):
    """The event hub is not connected to a server: what was asked of it needs one."""


class FileTransferError(Error):
    """A file's bytes could not be moved to or from the server: refused, not found, or cut short.

    ``status`` is the HTTP status of the answer (None when there was none), ``code`` the
    server's ``error_code`` (``not_found``, ``checksum_mismatch``, ``too_large`` …) and
    ``exception`` the server's name for it, when it said.
    """

    def __init__(self, message: str, status: int | None = None, code: str | None = None,
                 exception: str | None = None) -> None:  # fmt: skip
        self.status = status
        self.code = code
        self.exception = exception
        super().__init__(message)


class DatabaseError(Error):
    """The server's database could not be opened (wrong URL, not running, refused us)."""


class NoResultFoundError(Error):
    """A query that should find one entity found none."""


class MultipleResultsFoundError(Error):
    """A query that should find one entity found several."""


class UnknownAttributeError(Error, KeyError):
    """An entity has no attribute of that name; the message names the close ones."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ImmutableAttributeError(Error):
    """An attribute that cannot be set: immutable once created, or computed by the server."""


class AttributeValueError(Error, TypeError):
    """A value of the wrong kind for an attribute: the message says what was expected."""


class QueryError(Error):
    """A query text that cannot be parsed or used.

    ``text`` is the text as given. Where the problem has a place, ``position``
    is its 0-based index into ``text``, ``line`` and ``column`` are 1-based, and
    the message shows the line with a caret under the spot. ``expected`` says
    what would have been valid there, when that is known.
    """

    kind = "query"

    def __init__(
        self,
        reason: str,
        text: str | None = None,
        position: int | None = None,
        expected: str | None = None,
    ) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        self.expected = expected
        self.line, self.column = _line_and_column(text, position)
        super().__init__(self._message())

    def _message(self) -> str:
        if self.text is None:
            return self.reason
        if self.line is None or self.column is None:  # no position
            return f"{self.reason} in {self.kind} {_shorten(self.text, _WINDOW * 2)!r}"
        line_text = self.text.split("\n")[self.line - 1]
        start = max(0, self.column - 1 - _WINDOW)
        before = ("…" if start else "") + line_text[start : self.column - 1]
        after = line_text[self.column - 1 :]
        shown = before + _shorten(after, _WINDOW)
        # Keep tabs under tabs so the caret lines up however the terminal draws them.
        caret = "".join("\t" if c == "\t" else " " for c in before) + "^"
        return (
            f"{self.reason} at line {self.line}, column {self.column} of the {self.kind}:\n"
            f"    {shown}\n"
            f"    {caret}"
        )


class ParameterError(QueryError):
    """A bound parameter (``:name``) without a value, or with a value that cannot be one."""


class ExpressionError(QueryError):
    """An event subscription expression that cannot be parsed."""

    kind = "expression"


class LocationError(Error):
    """A component could not be added to, found in or removed from a location.

    ``details`` holds what ftrack's error holds (``components``, ``location``, ``error``,
    ``transferred``), for code written against ftrack's client.
    """

    def __init__(self, message: str, **details: Any) -> None:
        self.details = details
        super().__init__(message)


class ComponentInLocationError(LocationError):
    """Components already in the location they were being added to; nothing was added."""

    def __init__(self, components: Sequence[Any], location: Any) -> None:
        self.components, self.location = list(components), location
        shown = ", ".join(repr(component) for component in self.components)
        super().__init__(f"{shown} already in {location!r}", components=self.components, location=location)


class ComponentNotInLocationError(LocationError):
    """Components that are not in the location they were looked for in."""

    def __init__(self, components: Sequence[Any], location: Any) -> None:
        self.components, self.location = list(components), location
        shown = ", ".join(repr(component) for component in self.components)
        super().__init__(f"{shown} not in {location!r}", components=self.components, location=location)


class ComponentNotInAnyLocationError(LocationError):
    """A component that is in no location this session can reach."""


class StructureError(Error):
    """A structure could not make a resource identifier for a component (say, one with no committed version)."""


class AccessorError(Error):
    """Storage could not do what was asked; ``operation``, ``resource_identifier`` and ``error`` say what and why.

    The subclasses carry ftrack's names, so code that catches them works unchanged.
    """

    default_message = "The accessor failed: {error}"

    def __init__(self, message: str | None = None, *, operation: str = "", resource_identifier: str | None = None,
                 error: BaseException | str | None = None) -> None:  # fmt: skip
        self.operation, self.resource_identifier, self.error = operation, resource_identifier, error
        template = message if message is not None else self.default_message
        super().__init__(template.format(operation=operation, resource_identifier=resource_identifier, error=error))


class AccessorOperationFailedError(AccessorError):
    """An operation of an accessor failed."""

    default_message = "{operation} failed on {resource_identifier}: {error}"


class AccessorUnsupportedOperationError(AccessorOperationFailedError):
    """An operation this accessor does not offer (a path from the server location, say)."""

    default_message = "{operation} is not supported by this accessor"


class AccessorPermissionDeniedError(AccessorOperationFailedError):
    """The storage refused the operation."""

    default_message = "{operation} of {resource_identifier} refused: permission denied"


class AccessorResourceIdentifierError(AccessorError):
    """A resource identifier the accessor cannot use."""

    default_message = "Not a resource identifier this accessor can use: {resource_identifier}"


class AccessorFilesystemPathError(AccessorResourceIdentifierError):
    """No file system path for a resource identifier: it falls outside the accessor's prefix."""

    default_message = "No file system path for {resource_identifier}: it is outside the accessor's prefix"


class AccessorResourceError(AccessorError):
    """A resource that is not as the operation needs it."""

    default_message = "Cannot {operation} {resource_identifier}: {error}"


class AccessorResourceNotFoundError(AccessorResourceError):
    """No resource at that identifier."""

    default_message = "No resource at {resource_identifier}"


class AccessorParentResourceNotFoundError(AccessorResourceError):
    """The container a resource would go in does not exist, or cannot be known."""

    default_message = "No container for {resource_identifier}"


class AccessorResourceInvalidError(AccessorResourceError):
    """A resource of the wrong kind: a file where a container was meant, or the reverse."""

    default_message = "Cannot {operation} {resource_identifier}: not the right kind of resource"


class AccessorContainerNotEmptyError(AccessorResourceError):
    """A container that cannot be removed because it holds something."""

    default_message = "The container {resource_identifier} is not empty"


_WINDOW = 60  # characters of context shown either side of an error


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _line_and_column(text: str | None, position: int | None) -> tuple[int | None, int | None]:
    if text is None or position is None:
        return None, None
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return line, column
