"""Who may call the server and what they may do: credentials, roles and project permissions.

- ``authenticator.py``: API keys, passwords and sign-in tokens, throttling, and the
  remembered answers that make a retried batch run once
- ``permissions.py``: the acting user of each batch, accounts as an administrator's,
  roles and the projects a user reaches (ftrack's ``SecurityRole`` model)
"""

from __future__ import annotations

from .authenticator import Authenticator, Refusal
from .permissions import Permissions, PermissionDenied, Principal, Roles

__all__ = ["Authenticator", "PermissionDenied", "Permissions", "Principal", "Refusal", "Roles"]
