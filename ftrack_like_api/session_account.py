"""What a Session says about the server and who it acts as, and how it signs in again.

::

    session.ping()               # seconds one round trip took
    session.current_user         # the User the session acts as (one query)
    Session(reauthenticate=lambda session: login(url, "jo", getpass.getpass()))

A mixin of :class:`~ftrack_like_api.session.Session`: it uses only the session's public
verbs (``call``, ``query``) and its transport.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .exceptions import AuthenticationError, SessionExpiredError

if TYPE_CHECKING:
    from .entity import Entity
    from .transport import Transport

__all__ = ["SessionAccount"]

log = logging.getLogger(__name__)


class SessionAccount:
    """``ping()``, ``current_user`` and signing in again when a sign-in token expires."""

    api_user: str | None
    server_url: str | None
    transport: Transport
    #: Called with the session when its sign-in token expired; it answers a new token (a
    #: :class:`~ftrack_like_api.authentication.SignIn`, what :func:`~ftrack_like_api.account.login`
    #: keeps, or the token's text), and the call that failed is sent once more with it.
    reauthenticate: Callable[[Any], Any] | None
    #: Held while signing in again: one sign-in for the threads refused at once.
    _renewing: threading.Lock
    #: Whether the session acts with the sign-in ``ftrack-like login`` kept (its errors say to sign in again).
    _kept_sign_in = False

    if TYPE_CHECKING:
        def query(self, expression: str, page_size: int | None = None, **values: Any) -> Any: ...

    def ping(self) -> float:
        """Seconds one round trip to the server took (``query_server_information``: the lightest call there is)."""
        started = time.perf_counter()
        self._sent([{"action": "query_server_information"}])
        return time.perf_counter() - started

    @property
    def current_user(self) -> Entity:
        """The User this session acts as (one query; Lagoon's ``me()``)."""
        if not self.api_user:
            raise ValueError("This session does not know its user's name: give Session(api_user=...)")
        return self.query("User where username is :name", name=self.api_user).one()  # type: ignore[no-any-return]

    def _sent(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        """``transport.handle(batch)``, logged at DEBUG; when the sign-in expired, ``reauthenticate``
        and send it once more."""
        refused = _credentials(self.transport)
        try:
            return self._timed(batch)
        except SessionExpiredError:
            if self.reauthenticate is None:
                raise
        except AuthenticationError as error:
            if not self._kept_sign_in or error.code != "invalid_credentials":
                raise
            # The token `ftrack-like login` kept was ended (signed out, a new password, the user disabled).
            url = self.server_url
            raise AuthenticationError({**error.answer, "content": f"{error.content}: the sign-in kept for {url} has "
                                       f"ended; sign in again (`ftrack-like login {url}`)"}) from None  # fmt: skip
        self._signed_in_again(refused)
        return self._timed(batch)

    def _signed_in_again(self, refused: Mapping[str, str]) -> bool:
        """The server refused ``refused`` (the credentials a request carried) as expired: sign in
        again with ``reauthenticate``, once for every thread and channel that was refused the same
        sign-in (a query, the event stream, a file transfer), and whether to try again.

        False when there is no ``reauthenticate``; SessionExpiredError when it gave no new token.
        The HTTP transport calls it for its channels (``transport.renew``).
        """
        with self._renewing:
            if _credentials(self.transport) != dict(refused):
                return True  # another thread signed in again meanwhile: its token is the transport's now
            if self.reauthenticate is None:
                return False
            log.info("the sign-in of %s expired: signing in again", self.api_user)
            token = self.reauthenticate(self)
            if not token:
                raise SessionExpiredError({"exception": "InvalidCredentialsError", "error_code": "session_expired",
                                           "content": "The sign-in expired and reauthenticate gave no new token"})  # fmt: skip
            use_token = getattr(self.transport, "use_token", None)
            if use_token is None:
                raise TypeError(f"{type(self.transport).__name__} cannot take a new token: reauthenticate needs a "
                                "server's URL")  # fmt: skip
            use_token(str(token))
            return True

    def _timed(self, batch: Sequence[Mapping[str, Any]]) -> list[Any]:
        """``transport.handle(batch)``; at DEBUG, each query (its values bound in its text) and how long it took."""
        if not log.isEnabledFor(logging.DEBUG):
            return self.transport.handle(batch)
        started = time.perf_counter()
        try:
            results = self.transport.handle(batch)
        except Exception as error:
            log.debug("%s failed in %.1f ms: %s", _described(batch), (time.perf_counter() - started) * 1000, error)
            raise
        took = (time.perf_counter() - started) * 1000
        for operation, result in zip(batch, results):
            if operation.get("action") == "query":
                rows = result.get("data") if isinstance(result, dict) else None
                log.debug("query %s: %s row(s) in %.1f ms", operation.get("expression"),
                          len(rows) if isinstance(rows, list) else "?", took)  # fmt: skip
        if any(operation.get("action") != "query" for operation in batch):
            log.debug("%s in %.1f ms", _described(batch), took)
        return results


def _credentials(transport: Any) -> dict[str, str]:
    """The headers that say who ``transport`` acts as (none for a transport without them)."""
    credentials = getattr(transport, "credentials", None)
    return dict(credentials()) if credentials is not None else {}


def _described(batch: Sequence[Mapping[str, Any]]) -> str:
    """``batch of 3 (create 2, update 1)``: what a batch holds, never its values."""
    counts: dict[str, int] = {}
    for operation in batch:
        action = str(operation.get("action"))
        counts[action] = counts.get(action, 0) + 1
    return f"batch of {len(batch)} ({', '.join(f'{action} {count}' for action, count in counts.items())})"
