"""The inbox's use cases on fakes: who may take, let go, give, read and close a conversation; the list's filters
and order; the thread's keyset pages; an agent's reply takes a waiting conversation; release = close."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from application.authorization import Actor
from application.ports.conversations import ConversationFilter
from application.use_cases.conversations.assign_conversation import AssignCommand, NotYourConversation
from application.use_cases.whatsapp.message_content import SendMessageCommand
from domain.channel import Conversation
from domain.conversations import ConversationAlreadyAssigned, ConversationNotFound, ConversationState, InvalidAssignee
from domain.errors import PermissionDenied
from domain.identity import Role, User
from domain.messaging import MessageDirection
from tests.bootstrap import bootstrap_test_app
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.fakes_channel import contact, number, outbound

pytestmark = pytest.mark.unit

ORG, OTHER_ORG = uuid4(), uuid4()


def user(org: UUID, role: Role, *, active: bool = True, name: str = "Ana") -> User:
    return User(id=uuid4(), organization_id=org, email=f"{uuid4()}@x.test", name=name, role=role, is_active=active,
                password_hash="x", created_at=T0, updated_at=T0)


def as_actor(u: User) -> Actor:
    return Actor(user_id=u.id, organization_id=u.organization_id, role=u.role, session_id=uuid4(), jti="j",
                 token_expires_at=T0 + timedelta(minutes=15))


class World:
    def __init__(self) -> None:
        self.store = FakeStore()
        self.factory = FakeUnitOfWorkFactory(self.store)
        self.clock = FakeClock(T0)
        self.app = bootstrap_test_app(uow=self.factory, clock=self.clock)
        self.number = number(ORG)
        self.store.numbers[self.number.id] = self.number
        self.admin, self.agent, self.agent2, self.viewer = (
            user(ORG, Role.ORG_ADMIN, name="Admin"), user(ORG, Role.AGENT, name="Agent One"),
            user(ORG, Role.AGENT, name="Agent Two"), user(ORG, Role.VIEWER))
        for u in (self.admin, self.agent, self.agent2, self.viewer):
            self.store.users[u.id] = u

    def conversation(self, whatsapp_id: str = "16505551234", *, name: str | None = None,
                     state: ConversationState = ConversationState.BOT, assignee: UUID | None = None,
                     minutes: int = 0, org: UUID = ORG) -> Conversation:
        store = self.factory.store
        num = self.number
        if org != ORG:
            num = number(org, phone_number_id="999")
            store.numbers[num.id] = num
        person = contact(org, whatsapp_id)
        person.name = name
        store.contacts[person.id] = person
        at = T0 + timedelta(minutes=minutes)
        c = Conversation(id=uuid4(), organization_id=org, number_id=num.id, contact_id=person.id,
                         last_inbound_at=at, last_message_at=at, state=state, assignee_id=assignee,
                         handoff_at=at if state.human else None, unread_count=2, created_at=T0, updated_at=T0)
        store.conversations[c.id] = c
        return c

    def stored(self, c: Conversation) -> Conversation:
        return self.factory.store.conversations[c.id]

    async def assign(self, who: User, c: Conversation, to: UUID | None) -> None:
        await self.app.assign_conversation.execute(
            as_actor(who), AssignCommand(conversation_id=c.id, user_id=to))


@pytest.fixture
def world() -> World:
    return World()


async def test_an_agent_takes_an_unassigned_conversation_and_lets_go_of_it(world: World) -> None:
    c = world.conversation(state=ConversationState.WAITING)
    await world.assign(world.agent, c, world.agent.id)
    assert (world.stored(c).state, world.stored(c).assignee_id) == (ConversationState.ASSIGNED, world.agent.id)
    await world.assign(world.agent, c, None)
    assert (world.stored(c).state, world.stored(c).assignee_id) == (ConversationState.WAITING, None)


async def test_an_agent_cannot_take_anothers_nor_assign_or_release_for_others(world: World) -> None:
    c = world.conversation(state=ConversationState.ASSIGNED, assignee=world.agent2.id)
    with pytest.raises(ConversationAlreadyAssigned):
        await world.assign(world.agent, c, world.agent.id)
    with pytest.raises(NotYourConversation):
        await world.assign(world.agent, c, None)
    free = world.conversation("16505550000", state=ConversationState.WAITING)
    with pytest.raises(NotYourConversation):
        await world.assign(world.agent, free, world.agent2.id)
    assert world.stored(c).assignee_id == world.agent2.id and world.stored(free).assignee_id is None


async def test_an_admin_assigns_any_active_agent_of_the_organization_only(world: World) -> None:
    c = world.conversation(state=ConversationState.ASSIGNED, assignee=world.agent.id)
    await world.assign(world.admin, c, world.agent2.id)
    assert world.stored(c).assignee_id == world.agent2.id
    stranger, inactive = user(OTHER_ORG, Role.AGENT), user(ORG, Role.AGENT, active=False)
    world.factory.store.users[stranger.id] = stranger
    world.factory.store.users[inactive.id] = inactive
    for bad in (stranger.id, inactive.id, world.viewer.id, uuid4()):
        with pytest.raises(InvalidAssignee):
            await world.assign(world.admin, c, bad)
    await world.assign(world.admin, c, None)
    assert world.stored(c).state is ConversationState.WAITING


async def test_viewers_read_but_do_not_act(world: World) -> None:
    c = world.conversation(state=ConversationState.WAITING)
    viewer = as_actor(world.viewer)
    found, total = await world.app.list_conversations.execute(viewer, ConversationFilter(), limit=10,
                                                                       offset=0)
    assert total == 1 and found[0].conversation.id == c.id
    with pytest.raises(PermissionDenied):
        await world.assign(world.viewer, c, world.viewer.id)
    with pytest.raises(PermissionDenied):
        await world.app.mark_conversation_read.execute(viewer, c.id)
    with pytest.raises(PermissionDenied):
        await world.app.close_conversation.execute(viewer, c.id)


async def test_read_and_close(world: World) -> None:
    c = world.conversation(state=ConversationState.ASSIGNED, assignee=world.agent.id)
    world.clock.set(T0 + timedelta(minutes=5))
    read = await world.app.mark_conversation_read.execute(as_actor(world.agent), c.id)
    assert (read.conversation.unread_count, read.conversation.last_read_at) == (0, T0 + timedelta(minutes=5))
    closed = await world.app.close_conversation.execute(as_actor(world.agent), c.id)
    assert (closed.conversation.state, closed.conversation.assignee_id, closed.conversation.handoff_at) == (
        ConversationState.CLOSED, None, None)
    assert world.stored(c).state is ConversationState.CLOSED


async def test_another_organizations_conversation_is_not_found(world: World) -> None:
    theirs = world.conversation(org=OTHER_ORG, state=ConversationState.WAITING)
    me = as_actor(world.admin)
    for call in (
        lambda: world.app.get_conversation.execute(me, theirs.id),
        lambda: world.app.list_conversation_messages.execute(me, theirs.id, before=None, limit=10),
        lambda: world.app.mark_conversation_read.execute(me, theirs.id),
        lambda: world.app.close_conversation.execute(me, theirs.id),
        lambda: world.assign(world.admin, theirs, world.admin.id),
    ):
        with pytest.raises(ConversationNotFound):
            await call()
    _, total = await world.app.list_conversations.execute(me, ConversationFilter(), limit=10, offset=0)
    assert total == 0
    assert world.stored(theirs).state is ConversationState.WAITING


async def test_the_list_filters_and_orders_by_last_activity(world: World) -> None:
    old = world.conversation("5511911110000", name="Maria Souza", state=ConversationState.WAITING, minutes=1)
    new = world.conversation("5511922220000", name="João", state=ConversationState.ASSIGNED,
                             assignee=world.agent.id, minutes=5)
    bot = world.conversation("5511933330000", name="Carla", minutes=3)
    me = as_actor(world.agent)
    use_case = world.app.list_conversations

    async def ids(where: ConversationFilter) -> list[UUID]:
        found, total = await use_case.execute(me, where, limit=10, offset=0)
        assert total == len(found)
        return [f.conversation.id for f in found]

    assert await ids(ConversationFilter()) == [new.id, bot.id, old.id]
    assert await ids(ConversationFilter(state=ConversationState.WAITING)) == [old.id]
    assert await ids(ConversationFilter(assignee_id=world.agent.id)) == [new.id]
    assert await ids(ConversationFilter(unassigned=True)) == [bot.id, old.id]
    assert await ids(ConversationFilter(query="souza")) == [old.id]
    assert await ids(ConversationFilter(query="92222")) == [new.id]
    assert await ids(ConversationFilter(number_id=uuid4())) == []
    page, total = await use_case.execute(me, ConversationFilter(), limit=1, offset=1)
    assert ([p.conversation.id for p in page], total) == ([bot.id], 3)
    [first] = (await use_case.execute(me, ConversationFilter(assignee_id=world.agent.id), limit=1, offset=0))[0]
    assert first.assignee_name == "Agent One" and first.contact_name == "João"


async def test_the_thread_pages_newest_first_with_a_cursor(world: World) -> None:
    c = world.conversation()
    person = world.factory.store.contacts[c.contact_id]
    sent = [outbound(world.number, person, at=T0 + timedelta(seconds=i // 2), content={"text": f"m{i}"})
            for i in range(7)]  # pairs share a second: the id breaks the tie
    for m in sent:
        world.factory.store.messages[m.id] = m
    expected = sorted(sent, key=lambda m: (m.occurred_at, m.id.int), reverse=True)
    use_case, me = world.app.list_conversation_messages, as_actor(world.viewer)
    seen, cursor = [], None
    while True:
        page = await use_case.execute(me, c.id, before=cursor, limit=3)
        seen += [m.id for m in page.messages]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [m.id for m in expected]
    summary = await world.app.get_conversation.execute(me, c.id)
    assert summary.last_message is not None and summary.last_message.text == expected[0].content["text"]


async def test_an_agents_reply_takes_the_waiting_conversation(world: World) -> None:
    c = world.conversation(state=ConversationState.WAITING, minutes=-5)
    person = world.factory.store.contacts[c.contact_id]
    send = world.app.send_message
    await send.execute(as_actor(world.agent), SendMessageCommand(to=person.whatsapp_id, message="Hi, I'm Ana"))
    stored = world.stored(c)
    assert (stored.state, stored.assignee_id, stored.last_message_at) == (ConversationState.ASSIGNED,
                                                                          world.agent.id, T0)
    await send.execute(as_actor(world.agent2), SendMessageCommand(to=person.whatsapp_id, message="me too"))
    assert world.stored(c).assignee_id == world.agent.id  # an assigned conversation stays its agent's
    last = max(world.factory.store.messages.values(), key=lambda m: m.created_at)
    assert last.direction is MessageDirection.OUTBOUND


async def test_release_closes_every_handed_off_conversation_of_the_contact(world: World) -> None:
    c = world.conversation(state=ConversationState.ASSIGNED, assignee=world.agent.id)
    released = await world.app.release_conversation.execute(
        as_actor(world.agent), c.contact_id)
    assert released == 1
    assert (world.stored(c).state, world.stored(c).handoff_at) == (ConversationState.CLOSED, None)
    assert await world.app.release_conversation.execute(
        as_actor(world.agent), c.contact_id) == 0


async def test_every_change_is_told_on_the_event_stream_in_its_transaction(world: World) -> None:
    c = world.conversation(state=ConversationState.WAITING)
    await world.assign(world.agent, c, world.agent.id)
    await world.app.mark_conversation_read.execute(as_actor(world.agent), c.id)
    await world.app.close_conversation.execute(as_actor(world.agent), c.id)
    told = [(e.payload["reason"], e.payload["state"], e.payload["assignee_id"]) for e, _ in world.store.events
            if e.type == "conversation.updated" and e.payload["conversation_id"] == str(c.id)]
    assert told == [("assigned", "assigned", str(world.agent.id)), ("read", "assigned", str(world.agent.id)),
                    ("closed", "closed", None)]
