"""The SMTP mailer against a real local SMTP server (aiosmtpd) over a real socket; the development mailbox."""

from __future__ import annotations

import asyncio
import json
import socket
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from adapters.mail.mailers import MailboxDirectoryMailer, SmtpMailer
from domain.errors import Unavailable

pytestmark = pytest.mark.integration


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's API
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_smtp_mailer_delivers_to_a_real_server() -> None:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mailer = SmtpMailer(host="127.0.0.1", port=port, sender="PyTake <no-reply@pytake.test>")
        await mailer.send(to="ana@example.com", subject="Reset your PyTake password", body="Use this link: x\n")
    finally:
        controller.stop()
    [(sender, recipients, raw)] = inbox.messages
    assert sender == "no-reply@pytake.test" and recipients == ["ana@example.com"]
    message = message_from_bytes(raw)
    assert message["Subject"] == "Reset your PyTake password"
    assert message.get_payload(decode=True).decode().strip() == "Use this link: x"


async def test_an_unreachable_smtp_server_is_unavailable_without_details() -> None:
    mailer = SmtpMailer(host="127.0.0.1", port=_free_port(), sender="no-reply@pytake.test", timeout=2)
    with pytest.raises(Unavailable) as raised:
        await mailer.send(to="ana@example.com", subject="s", body="secret-token-canary")
    assert "secret-token-canary" not in str(raised.value)


async def test_the_development_mailbox_writes_one_file_per_message(tmp_path: Path) -> None:
    mailer = MailboxDirectoryMailer(tmp_path / "mailbox")
    await asyncio.gather(*(mailer.send(to=f"u{i}@example.com", subject="hi", body=f"body {i}") for i in range(3)))
    files = sorted((tmp_path / "mailbox").iterdir())
    assert len(files) == 3
    stored = sorted(json.loads(f.read_text())["to"] for f in files)
    assert stored == ["u0@example.com", "u1@example.com", "u2@example.com"]
