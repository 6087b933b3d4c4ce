"""Credentials for plain ``requests`` calls to a server, as a session sends them.

::

    import requests
    from ftrack_like_api import SessionAuthentication

    requests.get(f"{server}/health", auth=SessionAuthentication(api_key, api_user))
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import requests

from .exceptions import ServerError, TransportError

__all__ = ["SessionAuthentication", "SignIn", "signin"]


class SessionAuthentication(requests.auth.AuthBase):
    """Adds the ``ftrack-user`` and ``ftrack-api-key`` headers to a request."""

    def __init__(self, api_key: str, api_user: str) -> None:
        if not api_key or not api_user:
            raise ValueError("SessionAuthentication needs an api_key and an api_user")
        self.api_key = api_key
        self.api_user = api_user

    def __call__(self, request: Any) -> Any:
        request.headers.update({"ftrack-api-key": self.api_key, "ftrack-user": self.api_user})
        return request

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SessionAuthentication)
            and (self.api_key, self.api_user) == (other.api_key, other.api_user)
        )  # fmt: skip

    def __repr__(self) -> str:  # never the key itself
        return f"SessionAuthentication(api_user={self.api_user!r})"


@dataclasses.dataclass(frozen=True)
class SignIn:
    """A bearer token from signing in with a password, and when it expires."""

    token: str = dataclasses.field(repr=False)
    expires_at: datetime.datetime
    username: str

    def __str__(self) -> str:
        return self.token


def signin(server_url: str, username: str, password: str, timeout: float = 30.0) -> SignIn:
    """Sign in to a server with a password; use the result as ``Session(server_url, token=...)``.

    A wrong password or user gets one ServerError, whichever it was; too many failures in
    a row are refused for a while (the error says how long).
    """
    try:
        response = requests.post(
            server_url.rstrip("/") + "/signin", json={"username": username, "password": password}, timeout=timeout
        )
        answer = response.json()
    except requests.RequestException as reason:
        raise TransportError(f"No answer from {server_url}: {reason}") from reason
    except ValueError:
        raise TransportError(f"{server_url} answered {response.status_code} with something that is not JSON") from None
    if response.status_code != 200 or "token" not in answer:
        # A wrong name or password: an AuthenticationError (a ServerError).
        raise ServerError.from_answer(answer if isinstance(answer, dict) else {"exception": "ServerError",
                                                                               "content": str(answer)})  # fmt: skip
    expires = datetime.datetime.fromisoformat(answer["expires_at"])
    return SignIn(answer["token"], expires, answer.get("username", username))
