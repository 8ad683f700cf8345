"""GetInboundMedia on fakes: READ for every role, tenancy, which messages have media, the token's failures."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from application.ports.media import MediaFile, MediaStore, MediaTokenRejected
from application.use_cases.whatsapp.media import GetInboundMedia, MessageHasNoMedia
from domain.channel import RECEIVED, Message, MessageNotFound
from domain.identity import Role
from domain.messaging import MessageDirection
from tests.bootstrap import bootstrap_test_app
from tests.fakes import T0
from tests.fakes_channel import FakeSecretResolver, actor, contact, outbound
from tests.unit.application.test_whatsapp_process_inbox import ORG, World

pytestmark = pytest.mark.unit

OTHER = uuid4()
TOKEN = "EAAG-unit-token"


class FakeMediaStore(MediaStore):
    def __init__(self) -> None:
        self.fetched: list[tuple[str, str, str, int]] = []
        self.reject = False

    async def fetch(self, *, media_id: str, phone_number_id: str, access_token: str, max_bytes: int) -> MediaFile:
        self.fetched.append((media_id, phone_number_id, access_token, max_bytes))
        if self.reject:
            raise MediaTokenRejected()
        return MediaFile(path=f"/tmp/{media_id}", mime_type="application/pdf", size=10, temporary=True)

    def release(self, media: MediaFile) -> None:
        pass


def world() -> tuple[GetInboundMedia, FakeMediaStore, FakeSecretResolver, dict[str, Message]]:
    fakes = World()  # the inbox tests' store (one fake unit of work); its number is the organization's
    num = fakes.number
    person = contact(ORG)
    inbound = Message(id=uuid4(), organization_id=ORG, number_id=num.id, contact_id=person.id,
                      direction=MessageDirection.INBOUND, type="document",
                      content={"text": "NF", "media_id": "2270563953301423",
                               "media": {"id": "2270563953301423", "filename": "NF-e 3519.pdf"}},
                      status=RECEIVED, wamid="wamid.doc", source="whatsapp", occurred_at=T0, created_at=T0,
                      updated_at=T0)
    messages = {"document": inbound, "text": replace(inbound, id=uuid4(), type="text", content={"text": "oi"},
                                                     wamid="wamid.text"),
                "deleted": replace(inbound, id=uuid4(), wamid="wamid.del", content={"deleted": True},
                                   deleted_at=T0),
                "outbound": outbound(num, person, kind="image", content={"media_id": "x"})}
    fakes.store.contacts[person.id] = person
    for message in messages.values():
        fakes.store.messages[message.id] = message
    media, secrets = FakeMediaStore(), FakeSecretResolver({num.access_token_secret_id: TOKEN})
    use_case = bootstrap_test_app(uow=fakes.factory, secret_resolver=secrets, media_store=media,
                                  media_max_bytes=1234).get_inbound_media
    return use_case, media, secrets, messages


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT, Role.ORG_ADMIN])
async def test_every_role_of_the_organization_reads_it_with_the_numbers_token(role: Role) -> None:
    use_case, media, _, messages = world()
    found = await use_case.execute(actor(ORG, role), messages["document"].id)
    assert (found.filename, found.kind, found.file.path) == ("NF-e 3519.pdf", "document", "/tmp/2270563953301423")
    assert media.fetched == [("2270563953301423", "106540352242922", TOKEN, 1234)]


async def test_another_organization_gets_not_found_and_nothing_is_fetched() -> None:
    use_case, media, secrets, messages = world()
    with pytest.raises(MessageNotFound):
        await use_case.execute(actor(OTHER, Role.ORG_ADMIN), messages["document"].id)
    with pytest.raises(MessageNotFound):
        await use_case.execute(actor(ORG), uuid4())
    assert media.fetched == [] and secrets.resolved == []


@pytest.mark.parametrize("which", ["text", "deleted", "outbound"])
async def test_messages_without_inbound_media_are_a_conflict(which: str) -> None:
    use_case, media, _, messages = world()
    with pytest.raises(MessageHasNoMedia):
        await use_case.execute(actor(ORG), messages[which].id)
    assert media.fetched == []


async def test_a_rejected_token_is_reported_to_the_vault() -> None:
    use_case, media, secrets, messages = world()
    media.reject = True
    with pytest.raises(MediaTokenRejected):
        await use_case.execute(actor(ORG), messages["document"].id)
    assert secrets.failures == [(ORG, next(iter(secrets.tokens)))]
