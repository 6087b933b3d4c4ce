"""ftrack's invitations by mail (``send_user_invite``, ``send_review_session_invite``): refused, saying why.

ftrack's client calls them for ``user.send_invite()`` and
``session.send_review_session_invite(s)``; ftrack's server mails the invitation. This
server sends no mail, so each is refused with what to do instead — not the "Invalid
action" of an action the server never heard of.
"""

from __future__ import annotations

from typing import Any, Mapping

from ....exceptions import ValidationError
from ...engine.backend import Backend
from ...engine.batch import BatchContext

__all__ = ["INSTEAD", "register"]

#: Each action, and what to do instead.
INSTEAD = {
    "send_user_invite": "give the user their user name and a password (ftrack-like user password) or a key yourself",
    "send_review_session_invite": "send the invitee the review session's link yourself",
}


def register(backend: Backend) -> None:
    """Answer the two actions on ``backend`` with their refusal."""
    for name in INSTEAD:
        backend.register_action(name, _refuse(name))


def _refuse(name: str) -> Any:
    def refuse(batch: BatchContext, operation: Mapping[str, Any]) -> None:
        raise ValidationError(f"{name}: this server sends no mail — {INSTEAD[name]}", "not_supported")

    return refuse
