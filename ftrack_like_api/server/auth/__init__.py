"""Who may call the server and what they may do: credentials, roles and project permissions.

- ``authenticator.py`` puts together ``credentials.py`` (API keys, passwords and sign-in
  tokens), ``tokens.py`` (personal access tokens, signing out), ``throttle.py`` (failures
  per name and address) and ``idempotency.py`` (the
  remembered answers that make a retried batch run once), over ``tables.py``
- ``permissions.py``: the acting user of each batch, accounts as an administrator's,
  roles and the projects a user reaches (ftrack's ``SecurityRole`` model)
"""

from __future__ import annotations

from .authenticator import Authenticator
from .throttle import Refusal
from .permissions import Permissions, PermissionDenied, Principal, Roles

__all__ = ["Authenticator", "PermissionDenied", "Permissions", "Principal", "Refusal", "Roles"]
