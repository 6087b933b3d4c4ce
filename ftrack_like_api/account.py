"""Sign in once, sign out, and personal access tokens: a person's account on a server.

::

    from ftrack_like_api.account import login, logout, create_token

    login("https://studio.example", "jo", password)    # kept: Session() now acts as jo there
    token = create_token("https://studio.example", "laptop", expires_in=datetime.timedelta(days=90))
    logout("https://studio.example")                   # ended on the server, forgotten here

What ``ftrack-like login``, ``logout`` and ``token …`` do. The sign-in is kept by
:class:`~ftrack_like_api.credential_store.CredentialStore`; a personal token is shown
once and used wherever an API key is (``Session(api_user="jo", api_key=token)``).
"""

from __future__ import annotations

import datetime
from typing import Any

import requests

from .authentication import signin
from .credential_store import CredentialStore, SignedIn, server_key
from .exceptions import AuthenticationError, ServerError, TransportError

__all__ = ["check_server_url", "create_token", "list_tokens", "login", "logout", "revoke_token", "signed_in"]


def login(server_url: str, username: str, password: str, store: CredentialStore | None = None,
          timeout: float = 30.0) -> SignedIn:  # fmt: skip
    """Sign in to ``server_url`` and keep the token (``store``: the user's own by default); what was kept."""
    check_server_url(server_url)
    made = signin(server_key(server_url), username, password, timeout=timeout)
    kept = SignedIn(server_key(server_url), made.username, made.token, made.expires_at)
    (store or CredentialStore()).save(kept)
    return kept


def logout(server_url: str | None = None, store: CredentialStore | None = None, timeout: float = 30.0) -> SignedIn | None:
    """End the kept sign-in to ``server_url`` (None: the default server) on the server, and forget it here.

    What was kept, or None when nothing was. An unreachable server still has it forgotten
    here (the token ends by itself within 12 hours); the TransportError says so after.
    """
    store = store or CredentialStore()
    kept = store.load(server_url)
    if kept is None:
        return None
    try:
        _call("POST", kept.server_url, "/signout", kept.token, timeout=timeout)
    except AuthenticationError:
        pass  # expired or ended already: nothing to end on the server
    except TransportError as error:
        store.forget(kept.server_url)
        raise TransportError(f"{error}; the sign-in is forgotten here, and its token ends by itself at "
                             f"{kept.expires_at or 'its expiry'}") from error  # fmt: skip
    store.forget(kept.server_url)
    return kept


def signed_in(server_url: str | None = None, store: CredentialStore | None = None) -> SignedIn:
    """The kept sign-in to ``server_url`` (None: the default server); a ValueError saying to sign in when none."""
    kept = (store or CredentialStore()).load(server_url)
    if kept is None:
        where = f"to {server_url}" if server_url else "anywhere"
        raise ValueError(f"Not signed in {where}: `ftrack-like login {server_url or 'SERVER'}` first")
    return kept


def create_token(server_url: str | None, name: str, expires_in: datetime.timedelta | None = None,
                 store: CredentialStore | None = None) -> dict[str, Any]:  # fmt: skip
    """A new personal token named ``name``, made as the signed-in person: ``{"name", "token", "expires_at"}``.

    The token is shown this once; the server keeps only its hash.
    """
    kept = signed_in(server_url, store)
    seconds = None if expires_in is None else expires_in.total_seconds()
    return _call("POST", kept.server_url, "/tokens", kept.token, {"name": name, "expires_in": seconds})  # type: ignore[no-any-return]


def list_tokens(server_url: str | None = None, store: CredentialStore | None = None) -> list[dict[str, Any]]:
    """The signed-in person's personal tokens (never the tokens themselves), newest first."""
    kept = signed_in(server_url, store)
    return _call("GET", kept.server_url, "/tokens", kept.token)["tokens"]  # type: ignore[no-any-return]


def revoke_token(server_url: str | None, name: str, store: CredentialStore | None = None) -> None:
    """Revoke the signed-in person's personal token named ``name``: it stops working at once."""
    kept = signed_in(server_url, store)
    _call("DELETE", kept.server_url, f"/tokens/{requests.utils.quote(name, safe='')}", kept.token)


def check_server_url(server_url: str) -> None:
    """ValueError, saying to add the scheme, for a server URL without ``http://`` or ``https://``."""
    if not server_url.startswith(("http://", "https://")):
        raise ValueError(f"{server_url!r} is not a server's URL: add http:// or https:// (https://studio.example)")


def _call(method: str, server_url: str, path: str, token: str, body: Any = None, timeout: float = 30.0) -> Any:
    """One JSON request to ``server_url`` + ``path`` with the bearer ``token``; its JSON answer, or the error it stands for."""
    try:
        response = requests.request(method, server_url + path, json=body, timeout=timeout,
                                    headers={"authorization": f"Bearer {token}"})  # fmt: skip
        answer = response.json()
    except requests.RequestException as reason:
        raise TransportError(f"No answer from {server_url}: {reason}") from reason
    except ValueError:
        raise TransportError(f"{server_url} answered {response.status_code} with something that is not JSON") from None
    if response.status_code >= 400 or (isinstance(answer, dict) and "exception" in answer):
        raise ServerError.from_answer(answer if isinstance(answer, dict) else {"content": str(answer)})
    return answer
