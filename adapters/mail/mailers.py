"""Mailers: SMTP for production, a mailbox directory (plus a log line) for development."""

from __future__ import annotations

import asyncio
import json
import smtplib
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import structlog

from application.ports.common import Mailer
from domain.errors import Unavailable

log = structlog.get_logger("pytake.mail")


class SmtpMailer(Mailer):
    def __init__(self, *, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password, self._starttls, self._timeout = username, password, starttls, timeout

    async def send(self, *, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._sender, to, subject
        message.set_content(body)

        def _deliver() -> None:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(message)

        try:
            await asyncio.to_thread(_deliver)
        except (OSError, smtplib.SMTPException) as e:
            raise Unavailable(f"The mail server could not be reached ({type(e).__name__}).") from None


class MailboxDirectoryMailer(Mailer):
    """Development mailbox: one JSON file per message under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send(self, *, to: str, subject: str, body: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        path = self._directory / f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
        content = json.dumps({"to": to, "subject": subject, "body": body, "sent_at": now.isoformat()}, indent=2)
        await asyncio.to_thread(path.write_text, content)
        log.info("mail.written_to_mailbox", to=to, subject=subject, path=str(path))
