"""The webhook applier on fakes: system messages change identities and nothing else; senders are found by
number, ninth-digit spelling or BSUID; the same person's contacts are merged; canonical ids from sends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.contacts import Contact, whatsapp_id_spellings
from domain.messaging import MessageDirection
from tests.fake_graph import builders
from tests.fakes import T0
from tests.fakes_channel import contact
from tests.unit.application.test_whatsapp_process_inbox import ORG, PNID, World

pytestmark = pytest.mark.unit

STAMP = int((T0 - timedelta(minutes=5)).timestamp())


def people(world: World) -> list[Contact]:
    return sorted(world.store.contacts.values(), key=lambda c: (c.created_at, c.id))


def add(world: World, whatsapp_id: str | None, *, bsuid: str | None = None, minutes_ago: int = 60) -> Contact:
    person = contact(ORG, whatsapp_id or "0", T0 - timedelta(minutes=minutes_ago))
    person.whatsapp_id, person.bsuid = whatsapp_id, bsuid
    world.store.contacts[person.id] = person
    return person


async def test_a_number_change_is_a_system_message_that_opens_no_window_and_moves_the_contact() -> None:
    world = World()
    old = add(world, "5511987654321")
    summary = await world.deliver(builders.system_message(
        PNID, "user_changed_number", from_wa_id="5511987654321", new_wa_id="5521987654321", user_id="BR.77",
        body="STOP", timestamp=STAMP))
    assert summary == {"system": 1}
    [person] = people(world)
    assert (person.id, person.whatsapp_id, person.bsuid, person.opted_out) == (old.id, "5521987654321", "BR.77",
                                                                                False)
    [notice] = world.store.messages.values()
    assert (notice.direction, notice.type, notice.contact_id, notice.content["system_type"]) == (
        MessageDirection.SYSTEM, "system", old.id, "user_changed_number")
    assert world.store.conversations == {} and world.inbound() == []


async def test_a_number_change_onto_an_existing_contact_merges_it_and_its_messages() -> None:
    world = World()
    old, new = add(world, "16505551234", minutes_ago=90), add(world, "12195555358", minutes_ago=30)
    new.tags, new.email = ["lead"], "s@example.com"
    await world.deliver(builders.inbound_text(PNID, "12195555358", "from the new phone", timestamp=STAMP - 60))
    assert await world.deliver(builders.system_message(
        PNID, "user_changed_number", from_wa_id="16505551234", new_wa_id="12195555358",
        timestamp=STAMP)) == {"system": 1}
    [person] = people(world)
    assert (person.id, person.whatsapp_id, person.tags, person.email) == (old.id, "12195555358", ["lead"],
                                                                          "s@example.com")
    assert {m.contact_id for m in world.store.messages.values()} == {old.id}
    assert [c.contact_id for c in world.store.conversations.values()] == [old.id]


async def test_a_bsuid_change_updates_the_contact_found_by_its_previous_bsuid() -> None:
    world = World()
    person = add(world, "16505551234", bsuid="US.111")
    assert await world.deliver(builders.system_message(
        PNID, "user_changed_user_id", user_id="US.222", previous_user_id="US.111", timestamp=STAMP)) == {"system": 1}
    assert (world.store.contacts[person.id].bsuid, world.store.contacts[person.id].whatsapp_id) == (
        "US.222", "16505551234")


async def test_a_bsuid_change_for_nobody_known_is_recorded_only() -> None:
    world = World()
    assert await world.deliver(builders.system_message(
        PNID, "user_changed_user_id", user_id="US.222", previous_user_id="US.111", timestamp=STAMP)) == {"system": 1}
    assert world.store.contacts == {} and [m.contact_id for m in world.store.messages.values()] == [None]


async def test_ninth_digit_spelling_lands_on_the_existing_contact() -> None:
    world = World()
    ana = add(world, "5511987654321")
    assert await world.deliver(builders.inbound_text(PNID, "551187654321", "oi", timestamp=STAMP)) == {"inbound": 1}
    [person] = people(world)
    assert (person.id, person.whatsapp_id) == (ana.id, "5511987654321")
    assert [m.contact_id for m in world.inbound()] == [ana.id]


async def test_two_spellings_of_one_number_are_merged_into_the_oldest() -> None:
    world = World()
    first, second = add(world, "551187654321", minutes_ago=120), add(world, "5511987654321", minutes_ago=10)
    second.name = "Ana"
    await world.deliver(builders.inbound_text(PNID, "5511987654321", "oi", timestamp=STAMP))
    [person] = people(world)
    assert (person.id, person.whatsapp_id, person.name) == (first.id, "551187654321", "Ana")


async def test_a_username_user_then_seen_with_a_phone_is_one_contact() -> None:
    world = World()
    await world.deliver(builders.inbound_text(PNID, None, "hi", user_id="US.9", name="Sheena", timestamp=STAMP))
    [username] = people(world)
    phone = add(world, "16505551234", minutes_ago=1)  # older than the username contact: it survives
    await world.deliver(builders.inbound_text(PNID, "16505551234", "both", user_id="US.9", timestamp=STAMP + 1))
    [person] = people(world)
    assert (person.whatsapp_id, person.bsuid, person.name) == ("16505551234", "US.9", "Sheena")
    assert person.id == phone.id and username.id not in world.store.contacts
    assert len(world.inbound()) == 2 and {m.contact_id for m in world.inbound()} == {person.id}


async def test_merges_never_cross_organizations() -> None:
    world = World()
    stranger = contact(ORG.__class__(int=ORG.int ^ 1), "16505551234")
    world.store.contacts[stranger.id] = stranger
    await world.deliver(builders.inbound_text(PNID, "16505551234", "hi", user_id="US.9", timestamp=STAMP))
    mine = [c for c in people(world) if c.organization_id == ORG]
    assert len(mine) == 1 and mine[0].id != stranger.id and world.store.contacts[stranger.id].bsuid is None


async def test_a_contact_merged_away_by_a_later_sender_of_the_batch_is_followed_to_its_survivor() -> None:
    world = World()
    older = add(world, "12195555358", minutes_ago=120)  # the number the user has now
    newer = add(world, "16505551234", bsuid="US.7", minutes_ago=10)  # the old number, with the user's BSUID
    payload = builders.batch(builders.inbound_text(PNID, "16505551234", "from the old phone", timestamp=STAMP),
                             builders.inbound_text(PNID, "12195555358", "from the new", user_id="US.7",
                                                   timestamp=STAMP + 1))
    assert await world.deliver(payload) == {"inbound": 2}
    [person] = people(world)
    assert person.id == older.id and newer.id not in world.store.contacts
    assert {m.contact_id for m in world.inbound()} == {older.id}


async def test_one_batch_mixing_username_users_and_phone_users() -> None:
    world = World()
    payload = builders.batch(
        builders.inbound_text(PNID, None, "a", user_id="US.1", timestamp=STAMP),
        builders.inbound_text(PNID, "16505551234", "b", timestamp=STAMP),
        builders.inbound_text(PNID, "5511987654321", "c", user_id="BR.2", timestamp=STAMP),
        builders.inbound_text(PNID, "551187654321", "d", timestamp=STAMP + 1))
    assert await world.deliver(payload) == {"inbound": 4}
    identities = sorted((c.whatsapp_id or "", c.bsuid or "") for c in people(world))
    # the two spellings of one new number make one contact (the first spelling in sort order), which learns the BSUID
    assert identities == [("", "US.1"), ("16505551234", ""), ("551187654321", "BR.2")]
    by_text = {m.content["text"]: m.contact_id for m in world.inbound()}
    assert by_text["c"] == by_text["d"]


PEOPLE = [("55119", "87654321", "US.1"), ("55319", "76543210", "BR.2"), ("55219", "65432109", "BR.3")]
FORMS = ("with_nine", "without_nine", "bsuid_only", "phone_and_bsuid")


def _payload(person: int, form: str, text: str, at: int) -> dict:  # type: ignore[type-arg]
    prefix, local, user = PEOPLE[person]
    phone = {"with_nine": prefix + local, "without_nine": prefix[:-1] + local}.get(form, prefix + local)
    return builders.inbound_text(PNID, None if form == "bsuid_only" else phone, text,
                                 user_id=user if form in ("bsuid_only", "phone_and_bsuid") else None, timestamp=at)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(FORMS)), min_size=1, max_size=5),
                min_size=1, max_size=3))
def test_any_sequence_of_batches_keeps_every_message_on_one_contact_per_known_identity(
        batches: list[list[tuple[int, str]]]) -> None:
    async def run() -> None:
        world, sent, n = World(), [], 0
        for batch in batches:
            payloads = []
            for person, form in batch:
                n += 1
                payloads.append(_payload(person, form, f"{person}:{form}:{n}", STAMP + n))
                sent.append((person, form, f"{person}:{form}:{n}"))
            assert await world.deliver(builders.batch(*payloads)) == {"inbound": len(batch)}
        contacts = people(world)
        for a in contacts:  # no two contacts share a number (in either spelling) or a BSUID
            for b in contacts:
                if a.id != b.id:
                    assert a.bsuid is None or a.bsuid != b.bsuid
                    assert a.whatsapp_id is None or b.whatsapp_id not in whatsapp_id_spellings(a.whatsapp_id)
        by_text = {m.content["text"]: m.contact_id for m in world.inbound()}
        assert len(by_text) == len(sent) and all(c in world.store.contacts for c in by_text.values())
        for person in range(3):
            mine = [(form, by_text[text]) for p, form, text in sent if p == person]
            phone = {c for form, c in mine if form != "bsuid_only"}
            assert len(phone) <= 1  # every spelling of the number reaches one contact
            if any(form == "phone_and_bsuid" for form, _ in mine):
                assert len({c for _, c in mine}) == 1  # once seen together, one contact for both
    asyncio.run(run())


async def test_a_status_naming_the_recipients_bsuid_teaches_it_to_the_contact() -> None:
    world = World()
    sent = world.queue_outbound(wamid="wamid.out1", status="sent")
    assert await world.deliver(builders.status_update(PNID, "wamid.out1", "delivered", "16505551234",
                                                      recipient_user_id="US.42", timestamp=STAMP)) == {"statuses": 1}
    assert world.store.contacts[sent.contact_id].bsuid == "US.42"  # type: ignore[index]
    assert await world.deliver(builders.inbound_text(PNID, None, "it's me", user_id="US.42",
                                                     timestamp=STAMP + 5)) == {"inbound": 1}
    assert [m.contact_id for m in world.inbound()] == [sent.contact_id] and len(world.store.contacts) == 1
