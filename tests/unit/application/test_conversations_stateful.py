"""A state machine over the inbox use cases (hand-off, take, let go, give, reply, inbound, read, close) by an
admin and two agents on one conversation, checked against a plain model of who has it and what is unread."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from application.messaging import conversations as inbox
from application.use_cases.conversations.assign_conversation import AssignCommand, NotYourConversation
from application.use_cases.whatsapp.message_content import SendMessageCommand
from domain.conversations import ConversationAlreadyAssigned, ConversationState
from tests.fakes import T0
from tests.unit.application.test_conversations_inbox import ORG, World, as_actor
from tests.unit.conftest import run_sync

agents = st.sampled_from(["agent", "agent2"])


class OneConversation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.conversation = self.world.conversation(state=ConversationState.BOT)
        self.conversation_id = self.conversation.id
        self.state, self.assignee, self.unread = ConversationState.BOT, None, 2
        self.tick = 0

    def _now(self) -> None:
        self.tick += 1
        self.world.clock.set(T0 + timedelta(seconds=self.tick))

    def _user(self, name: str) -> UUID:
        return getattr(self.world, name).id  # type: ignore[no-any-return]

    def _assign(self, who: str, to: UUID | None) -> None:
        self._now()
        run_sync(self.world.app.assign_conversation.execute(
            as_actor(getattr(self.world, who)), AssignCommand(conversation_id=self.conversation_id, user_id=to)))

    @rule()
    def flow_hands_off(self) -> None:
        self._now()

        async def hand_off() -> None:
            async with self.world.factory(ORG) as uow:
                await inbox.hand_off(uow, self.conversation.number_id, self.conversation.contact_id,
                                     self.world.clock.now())
                await uow.commit()
        run_sync(hand_off())
        if not self.state.human:
            self.state = ConversationState.WAITING

    @rule(who=agents)
    def agent_takes(self, who: str) -> None:
        me = self._user(who)
        try:
            self._assign(who, me)
        except ConversationAlreadyAssigned:
            assert self.assignee not in (None, me)
            return
        assert self.assignee in (None, me)
        self.state, self.assignee = ConversationState.ASSIGNED, me

    @rule(who=agents)
    def agent_lets_go(self, who: str) -> None:
        me = self._user(who)
        try:
            self._assign(who, None)
        except NotYourConversation:
            assert self.assignee not in (None, me)
            return
        if self.assignee == me:
            self.state, self.assignee = ConversationState.WAITING, None

    @rule(to=agents)
    def admin_gives(self, to: str) -> None:
        self._assign("admin", self._user(to))
        self.state, self.assignee = ConversationState.ASSIGNED, self._user(to)

    @rule(who=agents)
    def agent_replies(self, who: str) -> None:
        self._now()
        person = self.world.factory.store.contacts[self.conversation.contact_id]
        run_sync(self.world.app.send_message.execute(
            as_actor(getattr(self.world, who)), SendMessageCommand(to=person.whatsapp_id, message="hello")))
        if self.state is ConversationState.WAITING:
            self.state, self.assignee = ConversationState.ASSIGNED, self._user(who)

    @rule(count=st.integers(1, 3))
    def contact_writes(self, count: int) -> None:
        self._now()

        async def receive() -> None:
            async with self.world.factory(ORG) as uow:
                await inbox.record_inbound(uow, [(self.conversation.number_id, self.conversation.contact_id,
                                                  self.world.clock.now(), count)], self.world.clock.now())
                await uow.commit()
        run_sync(receive())
        self.unread += count
        if self.state is ConversationState.CLOSED:
            self.state = ConversationState.BOT

    @rule(who=agents)
    def agent_reads(self, who: str) -> None:
        self._now()
        run_sync(self.world.app.mark_conversation_read.execute(
            as_actor(getattr(self.world, who)), self.conversation_id))
        self.unread = 0

    @rule(who=st.sampled_from(["agent", "agent2", "admin"]))
    def close(self, who: str) -> None:
        self._now()
        run_sync(self.world.app.close_conversation.execute(
            as_actor(getattr(self.world, who)), self.conversation_id))
        self.state, self.assignee = ConversationState.CLOSED, None

    @invariant()
    def matches_the_model(self) -> None:
        stored = self.world.factory.store.conversations[self.conversation_id]
        assert (stored.state, stored.assignee_id, stored.unread_count) == (self.state, self.assignee, self.unread)
        assert (stored.handoff_at is not None) == stored.state.human
        assert len(self.world.factory.store.conversations) == 1


TestOneConversation = OneConversation.TestCase
TestOneConversation.settings = settings(max_examples=60, stateful_step_count=25, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
