"""A keyring backend that keeps passwords in a JSON file: a credential store for tests, where the machine has none.

The platform's stores (Keychain, Credential Locker, the Secret Service) are not on a CI
machine; this one goes through the same ``keyring`` API. ``PYTHON_KEYRING_BACKEND=
keyring_backend.JsonFileKeyring`` (with this folder on ``PYTHONPATH``) selects it in a
process of its own, ``KEYRING_FILE`` names its file.
"""

import json
import os
import pathlib

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class JsonFileKeyring(KeyringBackend):
    priority = 1

    def __init__(self, path=None):
        super().__init__()
        self.path = pathlib.Path(path or os.environ["KEYRING_FILE"])

    def _all(self):
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service, username):
        return self._all().get(f"{service}\n{username}")

    def set_password(self, service, username, password):
        kept = self._all()
        kept[f"{service}\n{username}"] = password
        self.path.write_text(json.dumps(kept))

    def delete_password(self, service, username):
        kept = self._all()
        if kept.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError(username)
        self.path.write_text(json.dumps(kept))


class LockedKeyring(KeyringBackend):
    """A store that refuses to be read, as a locked desktop keyring does."""

    priority = 1

    def get_password(self, service, username):
        from keyring.errors import KeyringLocked

        raise KeyringLocked("the collection is locked")

    def set_password(self, service, username, password):
        from keyring.errors import KeyringLocked

        raise KeyringLocked("the collection is locked")

    def delete_password(self, service, username):
        from keyring.errors import KeyringLocked

        raise KeyringLocked("the collection is locked")
