"""Credentials for plain ``requests`` calls to a server, as a session sends them.

::

    import requests
    from ftrack_like_api import SessionAuthentication

    requests.get(f"{server}/health", auth=SessionAuthentication(api_key, api_user))
"""

from __future__ import annotations

from typing import Any

import requests

__all__ = ["SessionAuthentication"]


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
