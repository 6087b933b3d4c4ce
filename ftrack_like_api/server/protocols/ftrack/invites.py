"""ftrack's invitations by mail: ``send_user_invite`` and ``send_review_session_invite``.

ftrack's client calls them for ``user.send_invite()`` and
``session.send_review_session_invite(s)``. With an SMTP server configured (``serve
--smtp URL`` or ``FTRACK_LIKE_SMTP``, :mod:`...mail`) each mails what ftrack's invitation
says in substance: to a user, that they are invited, their user name and the link to sign
in; to a review session's invitee, the session's name and description and the link to its
project's Review page (the invitee's ``last_sent_at`` is set). Without one, each is
refused with what to do instead — never the "Invalid action" of an action the server
never heard of.

Who may: an administrator invites users; whoever may change a review session's project
invites to it. The links start with the address the request came to (what a client
reached the server at, its ``--root-path`` included).
"""

from __future__ import annotations

import contextvars
from typing import Any, Mapping

import sqlalchemy as sa

from ....exceptions import ValidationError
from ...auth.permissions import PermissionDenied
from ...engine.backend import Backend
from ...engine.batch import BatchContext
from ...mail import MAIL_VARIABLE, MailSettings, mail_settings, send_mail

__all__ = ["INSTEAD", "register", "request_base"]

#: Each action, and what to do instead when the server sends no mail.
INSTEAD = {
    "send_user_invite": "give the user their user name and a password (ftrack-like user password) or a key yourself",
    "send_review_session_invite": "send the invitee the review session's link yourself",
}

#: The address the request running a batch came to (``https://tracker.studio``), set by the HTTP layer.
request_base: contextvars.ContextVar[str | None] = contextvars.ContextVar("ftrack_like_request_base", default=None)


def register(backend: Backend) -> None:
    """Answer the two actions on ``backend``: mail when ``FTRACK_LIKE_SMTP`` says where, else a refusal."""
    settings = mail_settings()
    invitations = _Invitations(backend, settings)
    backend.register_action("send_user_invite", invitations.user)
    backend.register_action("send_review_session_invite", invitations.review_session, writes=True)


class _Invitations:
    def __init__(self, backend: Backend, settings: MailSettings | None) -> None:
        self.settings = settings
        tables = backend.storage.tables
        self.users, self.sessions = tables["resource"], tables["review_session"]
        self.invitees = tables["review_session_invitee"]

    def _settings(self, name: str) -> MailSettings:
        if self.settings is None:
            raise ValidationError(f"{name}: this server sends no mail (start it with --smtp URL or {MAIL_VARIABLE}) — "
                                  f"{INSTEAD[name]}", "not_supported")  # fmt: skip
        return self.settings

    @staticmethod
    def _id(operation: Mapping[str, Any], name: str) -> str:
        value = operation.get(name)
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{operation.get('action')} needs {name} (an id)", "bad_request")
        return value

    @staticmethod
    def _base() -> str:
        base = request_base.get()
        return base.rstrip("/") if base else ""

    def user(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        settings = self._settings("send_user_invite")
        if not batch.principal.admin:
            raise PermissionDenied(f"{batch.principal.username} may not invite users (send_user_invite): "
                                   "administrators do", "permission")  # fmt: skip
        user_id = self._id(operation, "user_id")
        row = batch.connection.execute(
            sa.select(self.users.c.username, self.users.c.email, self.users.c.first_name)
            .where(self.users.c.id == user_id, self.users.c.resource_type == "user")
        ).first()  # fmt: skip
        if row is None:
            raise ValidationError(f"No User with id {user_id} (user_id)", "not_found")
        if not row.email:
            raise ValidationError(f"User {row.username} has no email to send the invitation to", "bad_request")
        base = self._base()
        body = (f"Hello {row.first_name or row.username},\n\n"
                f"{batch.principal.username} has invited you to the studio's tracker at {base or 'the studio'}.\n\n"
                f"Your user name: {row.username}\n"
                f"Sign in: {base}/web/signin\n\n"
                f"Ask {batch.principal.username} for your password if you were not given one.\n")  # fmt: skip
        send_mail(settings, row.email, "You are invited to the studio's tracker", body)
        return {"data": {"user_id": user_id, "email": row.email}}

    def review_session(self, batch: BatchContext, operation: Mapping[str, Any]) -> dict[str, Any]:
        settings = self._settings("send_review_session_invite")
        invitee_id = self._id(operation, "review_session_invitee_id")
        row = batch.connection.execute(
            sa.select(self.invitees.c.name.label("invitee"), self.invitees.c.email, self.sessions.c.name,
                      self.sessions.c.description, self.sessions.c.project_id)
            .join_from(self.invitees, self.sessions, self.sessions.c.id == self.invitees.c.review_session_id)
            .where(self.invitees.c.id == invitee_id)
        ).first()  # fmt: skip
        if row is None:
            raise ValidationError(f"No ReviewSessionInvitee with id {invitee_id} (review_session_invitee_id)", "not_found")
        writable = batch.principal.writable
        if not batch.principal.admin and writable is not None and row.project_id not in writable:
            raise PermissionDenied(f"{batch.principal.username} may not invite to review session {row.name!r}: "
                                   "those who may change its project do", "permission")  # fmt: skip
        if not row.email:
            raise ValidationError(f"Invitee {row.invitee or invitee_id} has no email to send the invitation to", "bad_request")
        base = self._base()
        about = f"\n{row.description}\n" if row.description else ""
        body = (f"Hello {row.invitee or row.email},\n\n"
                f"{batch.principal.username} has invited you to the review session {row.name!r}.\n{about}\n"
                f"Review: {base}/web/projects/{row.project_id}/review\n")  # fmt: skip
        send_mail(settings, row.email, f"Review session: {row.name}", body)
        batch.connection.execute(self.invitees.update().where(self.invitees.c.id == invitee_id).values(last_sent_at=batch.now))
        return {"data": {"review_session_invitee_id": invitee_id, "email": row.email}}
