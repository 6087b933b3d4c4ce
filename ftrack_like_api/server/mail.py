"""Mail the server sends (ftrack's invitations), through an SMTP server named by one URL.

``ftrack-like serve --smtp URL`` or ``FTRACK_LIKE_SMTP=URL`` (the option sets the variable
for the workers)::

    smtp://mail.studio:25                        plain SMTP (a relay inside the studio)
    smtp+starttls://user:password@mail.studio    STARTTLS on port 587 unless given
    smtps://user:password@mail.studio            TLS from the start, port 465 unless given
    …?from=tracker@studio.example                the sender (default ftrack-like@<the host name>)
    …&cafile=/etc/ssl/studio-ca.pem             trust this CA too (a studio's own mail server)

A user name and password in the URL sign in (``AUTH``), percent-encoded where they hold
``@``, ``:`` or ``/``. Without a URL the server sends no mail, and what would send one
says so. Mail goes through :mod:`smtplib` (the standard library): no new dependency.
"""

from __future__ import annotations

import dataclasses
import email.message
import email.utils
import os
import smtplib
import socket
import ssl
from typing import Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from ..exceptions import ValidationError

__all__ = ["MAIL_VARIABLE", "MailSettings", "mail_settings", "send_mail", "settings_from_url"]

#: The variable holding the SMTP URL (``serve --smtp`` sets it).
MAIL_VARIABLE = "FTRACK_LIKE_SMTP"

_SECURITY = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("ssl", 465)}


@dataclasses.dataclass(frozen=True)
class MailSettings:
    """Where and how mail is sent."""

    host: str
    port: int
    #: "plain", "starttls" or "ssl".
    security: str
    sender: str
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    #: Certificates to trust besides the system's (PEM), for TLS.
    cafile: str | None = None
    timeout: float = 15.0

    def tls(self) -> ssl.SSLContext:
        """The TLS context: the server's certificate is verified, against ``cafile`` too."""
        return ssl.create_default_context(cafile=self.cafile)


def settings_from_url(url: str, where: str = MAIL_VARIABLE) -> MailSettings:
    """The settings an SMTP URL names; a ValueError saying what is wrong with it (and ``where`` it was given)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _SECURITY:
        raise ValueError(f"{where}: {url!r} is not an SMTP URL: use smtp://host, smtp+starttls://user:password@host "
                         "or smtps://user:password@host (docs: howto/run-server, Mail)")  # fmt: skip
    if not parts.hostname:
        raise ValueError(f"{where}: {url!r} names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{where}: {url!r} has a port that is not a number") from None
    security, default_port = _SECURITY[parts.scheme]
    query = parse_qs(parts.query)
    sender = (query.get("from") or [f"ftrack-like@{socket.getfqdn() or 'localhost'}"])[0]
    if "@" not in sender:
        raise ValueError(f"{where}: the sender {sender!r} (from=) is not a mail address")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if username and password is None:
        raise ValueError(f"{where}: {url!r} names a user but no password (smtps://user:password@host)")
    cafile = query["cafile"][0] if query.get("cafile") else None
    if cafile and not os.path.isfile(cafile):
        raise ValueError(f"{where}: the CA file {cafile!r} (cafile=) does not exist")
    return MailSettings(host=parts.hostname, port=port or default_port, security=security, sender=sender,
                        username=username, password=password, cafile=cafile)  # fmt: skip


def mail_settings(environ: Mapping[str, str] = os.environ) -> MailSettings | None:
    """The settings of :data:`MAIL_VARIABLE`, or None when it is unset (the server sends no mail)."""
    url = environ.get(MAIL_VARIABLE, "").strip()
    return settings_from_url(url) if url else None


def send_mail(settings: MailSettings, to: str, subject: str, body: str) -> None:
    """Send one plain-text message; a ValidationError (``mail_failed``) saying what went wrong."""
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.sender, to, subject
    message["Date"] = email.utils.formatdate(localtime=False)
    message["Message-ID"] = email.utils.make_msgid(domain=settings.sender.rsplit("@", 1)[-1])
    message.set_content(body)
    where = f"{settings.host}:{settings.port}"
    try:
        client: smtplib.SMTP
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=settings.tls())
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with client:
            if settings.security == "starttls":
                client.starttls(context=settings.tls())
            if settings.username:
                client.login(settings.username, settings.password or "")
            client.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise ValidationError(f"The mail server {where} refused the user name and password of {MAIL_VARIABLE}",
                              "mail_failed") from None  # fmt: skip
    except smtplib.SMTPRecipientsRefused:
        raise ValidationError(f"The mail server {where} refused the address {to!r}", "mail_failed") from None
    except (smtplib.SMTPException, OSError) as error:
        raise ValidationError(f"Could not send mail through {where}: {error}", "mail_failed") from None
