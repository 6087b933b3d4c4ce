"""Where ``ftrack-like login`` keeps a sign-in: the platform's credential store, else a file only you can read.

The token of each server goes to the credential store ``keyring`` finds (macOS Keychain,
Windows Credential Locker, the Secret Service on Linux desktops), under the service
``ftrack-like`` and the server's URL. Beside it, ``credentials.json`` in the user config
folder (``platformdirs``: ``~/.config/ftrack-like`` on Linux) says which servers are
signed in, as whom, until when, and which one was signed in to last (a plain ``Session()``
uses that one). Where there is no credential store (a server, a container, CI) the token
goes into that file too: it is created readable by its owner only (0600), and refused if
anyone else may read it.

::

    store = CredentialStore()
    store.save(SignedIn("https://studio.example", "jo", token, expires_at))
    store.load("https://studio.example")       # SignedIn(...) or None
    store.forget("https://studio.example")
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import pathlib
import stat
import sys
import tempfile
from typing import Any

from .exceptions import CredentialStoreError

__all__ = ["CONFIG_VARIABLE", "CredentialStore", "SERVICE", "SignedIn", "kept_sign_in", "server_key"]

log = logging.getLogger(__name__)

#: The keyring service the tokens are kept under.
SERVICE = "ftrack-like"
#: A folder to keep ``credentials.json`` in instead of the user config folder.
CONFIG_VARIABLE = "FTRACK_LIKE_CONFIG_DIR"


@dataclasses.dataclass(frozen=True)
class SignedIn:
    """A kept sign-in: the server, who, the bearer token and when it expires."""

    server_url: str
    username: str
    token: str = dataclasses.field(repr=False)
    expires_at: datetime.datetime | None = None

    def __str__(self) -> str:  # what a transport sends as the bearer token
        return self.token


def server_key(url: str) -> str:
    """How a server's URL is filed: without a trailing slash."""
    return url.rstrip("/")


def kept_sign_in(server_url: str | None, api_user: str | None) -> SignedIn | None:
    """What a Session given no key nor token uses: the sign-in kept for ``server_url`` (None: the
    server signed in to last), when it is a server's URL and, if ``api_user`` is given, theirs."""
    if server_url and not server_url.startswith(("http://", "https://")):
        return None  # a database: the embedded mode has no sign-in
    kept = CredentialStore().load(server_url)
    if kept is None or (api_user and api_user != kept.username):
        return None
    return kept


class CredentialStore:
    """Sign-ins per server: tokens in ``keyring`` when it has a backend, else in a 0600 file."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        if folder is None:
            folder = os.environ.get(CONFIG_VARIABLE) or _config_folder()
        self.path = pathlib.Path(folder) / "credentials.json"

    # --- the public verbs ----------------------------------------------------------------------

    def save(self, signed_in: SignedIn) -> None:
        """Keep ``signed_in`` and make its server the default (:meth:`where` says where the token went)."""
        key = server_key(signed_in.server_url)
        entry: dict[str, Any] = {"username": signed_in.username,
                                 "expires_at": signed_in.expires_at and signed_in.expires_at.isoformat()}  # fmt: skip
        keyring = _keyring()
        if keyring is not None and _keyring_set(keyring, key, signed_in.token):
            entry["where"] = "keyring"
        else:
            entry.update(where="file", token=signed_in.token)
        index = self._read()
        index.setdefault("servers", {})[key] = entry
        index["default"] = key
        self._write(index)

    def load(self, server_url: str | None = None) -> SignedIn | None:
        """The sign-in kept for ``server_url`` (None: the server signed in to last), or None."""
        index = self._read()
        key: str | None = server_key(server_url) if server_url else index.get("default")
        entry = index.get("servers", {}).get(key) if key else None
        if key is None or entry is None:
            return None
        if entry.get("where") == "keyring":
            token = _keyring_get(_keyring(), key)
            if token is None:
                return None  # forgotten in the keyring meanwhile: as if never kept
        else:
            token = entry.get("token")
        expires = entry.get("expires_at")
        return SignedIn(key, entry["username"], token, datetime.datetime.fromisoformat(expires) if expires else None)

    def forget(self, server_url: str | None = None) -> SignedIn | None:
        """Forget the sign-in kept for ``server_url`` (None: the default one); what was kept, or None."""
        found = self.load(server_url)
        index = self._read()
        key: str | None = server_key(server_url) if server_url else index.get("default")
        entry = index.get("servers", {}).pop(key, None) if key else None
        if key is None or entry is None:
            return None
        if entry.get("where") == "keyring":
            _keyring_delete(_keyring(), key)
        if index.get("default") == key:
            index["default"] = next(iter(index["servers"]), None)
        self._write(index)
        return found

    def where(self, server_url: str) -> str | None:
        """Where the token for ``server_url`` is kept, as a person reads it; None when it is not."""
        entry = self._read().get("servers", {}).get(server_key(server_url))
        if entry is None:
            return None
        return f"the credential store ({type(_keyring().get_keyring()).__name__})" if entry.get("where") == "keyring" \
            else str(self.path)  # fmt: skip

    def servers(self) -> list[str]:
        """The servers signed in to (the default first)."""
        index = self._read()
        servers = list(index.get("servers", {}))
        return sorted(servers, key=lambda url: url != index.get("default"))

    # --- the file --------------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as opened:
                mode = os.fstat(opened.fileno()).st_mode
                if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise CredentialStoreError(
                        f"{self.path} may be read by others (mode {stat.S_IMODE(mode):o}): it may hold sign-in tokens, "
                        f"so it is not used. `chmod 600 {self.path}`, or delete it and sign in again"
                    )  # fmt: skip
                text = opened.read()
        except FileNotFoundError:
            return {}
        except OSError as reason:
            raise CredentialStoreError(f"Cannot read {self.path}: {reason}") from reason
        try:
            found = json.loads(text)
        except ValueError:
            found = None
        if not _well_formed(found):  # cut short, edited by hand, another program's
            raise CredentialStoreError(f"{self.path} is not what `ftrack-like login` wrote: delete it and sign in "
                                       "again")  # fmt: skip
        return found  # type: ignore[no-any-return]

    def _write(self, index: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".credentials-")  # 0600
            with os.fdopen(descriptor, "w") as written:
                json.dump(index, written, indent=2)
            os.replace(temporary, self.path)
        except OSError as reason:
            raise CredentialStoreError(f"Cannot write {self.path}: {reason}") from reason


def _config_folder() -> str:
    import platformdirs

    return platformdirs.user_config_dir("ftrack-like", appauthor=False)


def _keyring() -> Any:
    """The ``keyring`` module when it has a usable backend, else None (the file keeps the token)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - keyring is a dependency; a trimmed install falls back to the file
        return None
    try:
        backend = keyring.get_keyring()
    except Exception as reason:  # a backend named by PYTHON_KEYRING_BACKEND that cannot load
        raise CredentialStoreError(f"The credential store could not be opened: {reason}") from reason
    return None if isinstance(backend, fail.Keyring) else keyring


def _keyring_set(keyring: Any, key: str, token: str) -> bool:
    from keyring.errors import KeyringError, NoKeyringError

    try:
        keyring.set_password(SERVICE, key, token)
    except NoKeyringError:
        return False
    except KeyringError as reason:
        raise CredentialStoreError(f"The credential store refused the token: {reason} (is it locked?)") from reason
    return True


def _keyring_get(keyring: Any, key: str) -> str | None:
    if keyring is None:
        raise CredentialStoreError(f"The sign-in to {key} was kept in a credential store that is not there now: "
                                   f"`ftrack-like login {key}` again")  # fmt: skip
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(SERVICE, key)  # type: ignore[no-any-return]
    except KeyringError as reason:
        raise CredentialStoreError(f"The credential store could not be read: {reason} (unlock it, or set "
                                   "FTRACK_API_USER and FTRACK_API_KEY)") from reason  # fmt: skip


def _keyring_delete(keyring: Any, key: str) -> None:
    if keyring is None:
        return
    from keyring.errors import KeyringError, PasswordDeleteError

    try:
        keyring.delete_password(SERVICE, key)
    except PasswordDeleteError:
        pass  # gone already
    except KeyringError as reason:
        raise CredentialStoreError(f"The credential store could not forget the token: {reason}") from reason


def _well_formed(index: Any) -> bool:
    """Whether ``index`` is the file's shape: ``{"servers": {url: {"username": …, …}}, "default": url or None}``."""
    if not isinstance(index, dict) or not isinstance(index.get("servers", {}), dict):
        return False
    if not isinstance(index.get("default"), (str, type(None))):
        return False
    return all(isinstance(entry, dict) and isinstance(entry.get("username"), str)
               and isinstance(entry.get("token", ""), str) and isinstance(entry.get("expires_at") or "", str)
               for entry in index.get("servers", {}).values())  # fmt: skip
