"""Media uploads (stored, then uploaded by the worker) and read receipts on fakes."""

from __future__ import annotations

from uuid import uuid4

import pytest

from adapters.whatsapp.errors import graph_error
from application.authorization import Role
from application.jobs import MarkRead, UploadMedia
from application.use_cases.whatsapp.mark_message_read import NotAnInboundMessage
from application.use_cases.whatsapp.start_media_upload import MediaUploadCommand
from domain.channel import RECEIVED, MessageDirection, MessageNotFound, NumberStatus, WhatsAppNumberNotFound
from domain.errors import InvalidValue, PermissionDenied
from domain.media import MediaStatus, MediaTooLarge, MediaUploadNotFound, UnsupportedMedia
from tests.bootstrap import bootstrap_test_app
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.fakes_channel import (
    FakeSecretResolver,
    actor,
    contact,
    number,
    outbound,
)

pytestmark = pytest.mark.unit

ORG, SECRET = uuid4(), uuid4()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class World:
    def __init__(self) -> None:
        self.number = number(ORG, secret_id=SECRET)
        self.uow = FakeUnitOfWorkFactory(FakeStore(numbers={self.number.id: self.number}))
        self.clock = FakeClock(T0)
        self.app = bootstrap_test_app(uow=self.uow, clock=self.clock,
                                      secret_resolver=FakeSecretResolver({SECRET: "EAAG-token"}))
        self.gateway, self.secrets = self.app.gateway, self.app.secrets
        self.admin = actor(ORG)

    def command(self, content: bytes = PNG, mime: str = "image/png", name: str = "aloe.png") -> MediaUploadCommand:
        return MediaUploadCommand(number_id=self.number.id, filename=name, mime_type=mime, content=content)

    async def start(self, **options: object):  # type: ignore[no-untyped-def]
        return await self.app.start_media_upload.execute(self.admin, self.command(**options))

    async def run(self, upload_id):  # type: ignore[no-untyped-def]
        return await self.app.run_media_upload.execute(ORG, upload_id)


async def test_an_upload_is_stored_queued_then_uploaded_and_its_file_dropped() -> None:
    world = World()
    upload = await world.start(mime="image/png; charset=binary")
    assert (upload.status, upload.kind, upload.size_bytes, upload.mime_type) == (
        MediaStatus.QUEUED, "image", len(PNG), "image/png")
    [job] = world.uow.store.jobs.pending(UploadMedia.entrypoint)
    assert UploadMedia.decode(job.payload) == UploadMedia(organization_id=ORG, upload_id=upload.id)
    assert world.uow.store.media[upload.id][1] == PNG
    assert await world.run(upload.id) is MediaStatus.UPLOADED
    [call] = world.gateway.calls
    assert (call.method, call.phone_number_id, call.args["content"], call.args["mime_type"], call.args["filename"]) \
        == ("upload_media", world.number.phone_number_id, PNG, "image/png", "aloe.png")
    stored, content = world.uow.store.media[upload.id]
    assert (stored.status, stored.media_id, stored.uploaded_at, content) == (MediaStatus.UPLOADED, "media1", T0, None)
    assert await world.run(upload.id) is None and len(world.gateway.calls) == 1  # a redelivered job does nothing


async def test_meta_refusing_the_file_fails_the_upload_and_passing_trouble_is_retried() -> None:
    world = World()
    upload = await world.start()
    world.gateway.fail_next(graph_error(400, 130429, title="Rate limit hit"))
    with pytest.raises(Exception) as caught:
        await world.run(upload.id)
    assert getattr(caught.value, "retryable", False) is True
    assert world.uow.store.media[upload.id][0].status is MediaStatus.QUEUED
    world.gateway.fail_next(graph_error(400, 131053, title="Media upload error"))
    assert await world.run(upload.id) is MediaStatus.FAILED
    stored, content = world.uow.store.media[upload.id]
    assert (stored.error_code, stored.error, content) == (131053, "Media upload error", None)


async def test_a_dead_lettered_upload_is_failed_with_the_reason() -> None:
    world = World()
    upload = await world.start()
    await world.app.fail_media_upload.execute(ORG, upload.id, "gave up")
    assert (world.uow.store.media[upload.id][0].status, world.uow.store.media[upload.id][0].error) == (
        MediaStatus.FAILED, "gave up")


@pytest.mark.parametrize(("mime", "size", "error"), [
    ("image/gif", 10, UnsupportedMedia), ("", 10, UnsupportedMedia), ("image/png", 0, InvalidValue),
    ("image/png", 5 * 1024 * 1024 + 1, MediaTooLarge), ("image/webp", 500 * 1024 + 1, MediaTooLarge),
    ("application/pdf", 16 * 1024 * 1024 + 1, MediaTooLarge)])
async def test_unsupported_empty_or_oversized_files_are_refused_before_anything_is_stored(
        mime: str, size: int, error: type[Exception]) -> None:
    world = World()
    with pytest.raises(error):
        await world.start(content=b"x" * size, mime=mime)
    assert world.uow.store.media == {} and world.uow.store.jobs.pending() == []


async def test_roles_numbers_and_tenancy() -> None:
    world = World()
    with pytest.raises(PermissionDenied):
        await world.app.start_media_upload.execute(actor(ORG, Role.VIEWER), world.command())
    upload = await world.start()
    other = actor(uuid4())
    with pytest.raises(WhatsAppNumberNotFound):
        await world.app.start_media_upload.execute(other, world.command())
    with pytest.raises(MediaUploadNotFound):
        await world.app.get_media_upload.execute(other, upload.id)
    assert (await world.app.get_media_upload.execute(actor(ORG, Role.VIEWER), upload.id)).id == upload.id
    world.uow.store.numbers[world.number.id].status = NumberStatus.INACTIVE
    with pytest.raises(Exception, match="not active"):
        await world.start()


async def test_read_receipts_are_queued_for_inbound_messages_only_and_sent_by_the_worker() -> None:
    world = World()
    person = contact(ORG)
    inbound = outbound(world.number, person)
    inbound.direction, inbound.status, inbound.wamid = MessageDirection.INBOUND, RECEIVED, "wamid.in"
    sent = outbound(world.number, person)
    world.uow.store.messages.update({inbound.id: inbound, sent.id: sent})
    use_case = world.app.mark_message_read
    await use_case.execute(world.admin, inbound.id, typing=True)
    with pytest.raises(NotAnInboundMessage):
        await use_case.execute(world.admin, sent.id, typing=False)
    with pytest.raises(MessageNotFound):
        await use_case.execute(actor(uuid4()), inbound.id, typing=False)
    [job] = world.uow.store.jobs.pending(MarkRead.entrypoint)
    read = MarkRead.decode(job.payload)
    assert read == MarkRead(organization_id=ORG, message_id=inbound.id, typing=True)
    done = await world.app.run_mark_read.execute(
        ORG, read.message_id, read.typing)
    assert done and world.gateway.read == [(world.number.phone_number_id, "wamid.in")]
    assert world.gateway.calls[-1].args == {"typing": True, "wamid": "wamid.in"}
