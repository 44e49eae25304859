"""Sending email through the configured SMTP server (``LEADGATE_SMTP_URL``)."""

from leadgate.mail.smtp import MailConfig, send_mail

__all__ = ["MailConfig", "send_mail"]
