"""SMTP with the standard library: ``smtp://host:port`` (a local relay, plain),
``smtp+starttls://user:pass@host:587`` (STARTTLS, then login) and
``smtps://user:pass@host:465`` (TLS from the first byte).

The password in the URL is never logged: errors name the host and port only.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from leadgate.exceptions import ConfigError

__all__ = ["MailConfig", "send_mail"]

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class MailConfig:
    """Where and how to send, parsed from ``LEADGATE_SMTP_URL`` and ``LEADGATE_MAIL_FROM``."""

    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, *, sender: str) -> MailConfig:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ConfigError(
                "LEADGATE_SMTP_URL must start with smtp://, smtp+starttls:// or smtps:// "
                f"(got {scheme or 'no scheme'!r})"
            )
        if not parts.hostname:
            raise ConfigError("LEADGATE_SMTP_URL names no host")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise ConfigError("LEADGATE_SMTP_URL has an invalid port") from None
        if "@" not in sender:
            raise ConfigError(f"LEADGATE_MAIL_FROM {sender!r} is not an email address")
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=sender,
        )

    def __repr__(self) -> str:  # never the password
        return f"MailConfig({self.scheme}://{self.host}:{self.port}, from {self.sender})"


def send_mail(
    config: MailConfig,
    *,
    to: str,
    subject: str,
    body: str,
    headers: dict[str, str] | None = None,
) -> str:
    """Send one plain-text message; returns its Message-ID. Raises ``OSError`` or
    ``smtplib.SMTPException`` when the server cannot be reached or refuses it."""
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    server: smtplib.SMTP
    if config.scheme == "smtps":
        server = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with server:
        if config.scheme == "smtp+starttls":
            server.starttls(context=ssl.create_default_context())
        if config.user is not None:
            server.login(config.user, config.password or "")
        server.send_message(message)
    return str(message["Message-ID"])
