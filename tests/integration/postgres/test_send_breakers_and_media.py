"""The number's breaker and media uploads against real PostgreSQL: the outbox scan skips a paused number, a new
token closes only token breakers, an upload's file is dropped once it is final, and tenants never see each other's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from domain.media import MediaStatus, MediaUpload
from tests.integration.postgres.test_inbox_outbox import outbox_world, queue, sql

pytestmark = pytest.mark.integration


OWN_DATABASE = "pytake_breakers"  # the module's own database (tests/integration/postgres/conftest.py)


async def test_a_paused_number_is_left_out_of_the_scan_until_its_pause_ends(
        own_database: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, [ana] = await outbox_world(own_factory, 1)
    await queue(own_factory, number, ana, "hello")
    now = datetime.now(UTC)
    number.pause_sending(131048, "Spam rate limit hit", now, now + timedelta(minutes=5))
    async with own_factory(org) as uow:
        await uow.numbers.save_send_pause(number)
        await uow.commit()
    async with own_factory() as uow:
        assert (org, number.id) not in await uow.outbox.due_numbers(now, 1000)
        assert (org, number.id) in await uow.outbox.due_numbers(now + timedelta(minutes=6), 1000)
    async with own_factory(org) as uow:
        stored = await uow.numbers.get(number.id)
        assert stored is not None and stored.sending_paused(now) and stored.send_pause_reason == "Spam rate limit hit"
        assert await uow.numbers.clear_token_pauses(number.access_token_secret_id) == []  # a timed pause stays


async def test_a_new_token_closes_the_token_breakers_of_its_numbers_only(
        own_database: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, [ana] = await outbox_world(own_factory, 1)
    await queue(own_factory, number, ana, "hello")
    now = datetime.now(UTC)
    number.pause_sending(190, "Access token has expired", now, None)
    async with own_factory(org) as uow:
        await uow.numbers.save_send_pause(number)
        await uow.commit()
    async with own_factory() as uow:
        assert (org, number.id) not in await uow.outbox.due_numbers(now + timedelta(days=30), 1000)
    async with own_factory(org) as uow:
        assert await uow.numbers.clear_token_pauses(uuid4()) == []  # another secret
        [cleared] = await uow.numbers.clear_token_pauses(number.access_token_secret_id)
        await uow.commit()
    assert cleared.id == number.id and not cleared.sending_paused(now)
    other_org, other_number, _ = await outbox_world(own_factory, 1)
    async with own_factory(other_org) as uow:  # another tenant cannot close it (nor see it)
        assert await uow.numbers.clear_token_pauses(number.access_token_secret_id) == []
    async with own_factory() as uow:
        assert (org, number.id) in await uow.outbox.due_numbers(now, 1000)


async def test_an_upload_keeps_its_file_while_queued_and_drops_it_when_final(
        own_database: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, _ = await outbox_world(own_factory, 0)
    now = datetime.now(UTC)
    upload = MediaUpload(id=uuid4(), organization_id=org, number_id=number.id, filename="aloe.png",
                         mime_type="image/png", size_bytes=4, created_at=now, updated_at=now)
    async with own_factory(org) as uow:
        await uow.media.add(upload, b"\x89PNG")
        await uow.commit()
    async with own_factory(org) as uow:
        assert await uow.media.content(upload.id) == b"\x89PNG"
        stored = await uow.media.get(upload.id)
        assert stored == upload
    other_org, _, _ = await outbox_world(own_factory, 0)
    async with own_factory(other_org) as uow:
        assert await uow.media.get(upload.id) is None and await uow.media.content(upload.id) is None
    upload.uploaded("1479537139650973", now)
    async with own_factory(org) as uow:
        await uow.media.save(upload)
        await uow.commit()
    async with own_factory(org) as uow:
        stored = await uow.media.get(upload.id)
        assert stored is not None and (stored.status, stored.media_id) == (MediaStatus.UPLOADED, "1479537139650973")
        assert await uow.media.content(upload.id) is None
    [row] = await sql(own_database, "SELECT content IS NULL AS dropped FROM whatsapp_media WHERE id = $1", upload.id)
    assert row["dropped"]
