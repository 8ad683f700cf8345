"""The inbox state rules: each transition, and the invariants under any sequence of them (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import conversations as rules
from domain.channel import Conversation
from domain.conversations import ConversationState

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
AGENT, OTHER = uuid4(), uuid4()


def conversation(**changes: object) -> Conversation:
    c = Conversation(id=uuid4(), organization_id=uuid4(), number_id=uuid4(), contact_id=uuid4(), created_at=T0,
                     updated_at=T0)
    for name, value in changes.items():
        setattr(c, name, value)
    return c


def check_invariants(c: Conversation) -> None:
    assert (c.handoff_at is not None) == c.state.human
    assert (c.assignee_id is not None) == (c.state is ConversationState.ASSIGNED)
    assert c.unread_count >= 0


def test_hand_off_makes_a_bot_conversation_waiting_and_leaves_a_human_one_alone() -> None:
    c = conversation()
    assert rules.hand_off(c, T0) and c.state is ConversationState.WAITING and c.handoff_at == T0
    rules.assign(c, AGENT, T0)
    assert not rules.hand_off(c, T0 + timedelta(minutes=1))
    assert c.state is ConversationState.ASSIGNED and c.assignee_id == AGENT and c.handoff_at == T0


def test_take_release_close() -> None:
    c = conversation()
    rules.hand_off(c, T0)
    assert rules.assign(c, AGENT, T0 + timedelta(seconds=1))
    assert (c.state, c.assignee_id) == (ConversationState.ASSIGNED, AGENT)
    assert not rules.assign(c, AGENT, T0 + timedelta(seconds=2))  # taking it again changes nothing
    assert rules.unassign(c, T0 + timedelta(seconds=3))
    assert (c.state, c.assignee_id, c.handoff_at) == (ConversationState.WAITING, None, T0)
    assert rules.close(c, T0 + timedelta(seconds=4))
    assert (c.state, c.assignee_id, c.handoff_at) == (ConversationState.CLOSED, None, None)
    assert not rules.close(c, T0 + timedelta(seconds=5))


def test_taking_a_bot_conversation_silences_the_bot() -> None:
    c = conversation()
    rules.assign(c, AGENT, T0)
    assert c.state is ConversationState.ASSIGNED and c.handoff_at == T0


def test_inbound_counts_unread_and_reopens_a_closed_conversation_for_the_bot() -> None:
    c = conversation(state=ConversationState.CLOSED)
    rules.receive(c, T0, 3, T0)
    assert (c.state, c.unread_count, c.last_inbound_at, c.last_message_at) == (ConversationState.BOT, 3, T0, T0)
    rules.receive(c, T0 - timedelta(hours=1), 1, T0)  # a late webhook: times never move back
    assert (c.unread_count, c.last_inbound_at) == (4, T0)
    rules.mark_read(c, T0 + timedelta(minutes=1))
    assert (c.unread_count, c.last_read_at) == (0, T0 + timedelta(minutes=1))


def test_inbound_keeps_a_human_conversation_with_the_human() -> None:
    c = conversation()
    rules.hand_off(c, T0)
    rules.assign(c, AGENT, T0)
    rules.receive(c, T0 + timedelta(minutes=1), 1, T0 + timedelta(minutes=1))
    assert c.state is ConversationState.ASSIGNED and c.assignee_id == AGENT


def test_an_agent_reply_takes_a_waiting_conversation_only() -> None:
    waiting = conversation()
    rules.hand_off(waiting, T0)
    assert rules.agent_replied(waiting, AGENT, T0 + timedelta(minutes=1))
    assert (waiting.state, waiting.assignee_id, waiting.last_message_at) == (
        ConversationState.ASSIGNED, AGENT, T0 + timedelta(minutes=1))
    assert not rules.agent_replied(waiting, OTHER, T0 + timedelta(minutes=2))  # someone else's stays theirs
    assert waiting.assignee_id == AGENT
    bot = conversation()
    assert not rules.agent_replied(bot, AGENT, T0) and bot.state is ConversationState.BOT


_steps = st.lists(st.tuples(
    st.sampled_from(["hand_off", "assign", "unassign", "close", "receive", "reply", "read"]),
    st.sampled_from([AGENT, OTHER]), st.integers(min_value=-3600, max_value=3600), st.integers(1, 5)),
    max_size=40)


@settings(max_examples=300)
@given(_steps)
def test_any_sequence_keeps_the_invariants(steps: list[tuple[str, UUID, int, int]]) -> None:
    c = conversation()
    unread = 0
    for name, user, offset, count in steps:
        at = T0 + timedelta(seconds=offset)
        before = c.state
        match name:
            case "hand_off":
                rules.hand_off(c, at)
                assert c.state is (before if before.human else ConversationState.WAITING)
            case "assign":
                rules.assign(c, user, at)
                assert (c.state, c.assignee_id) == (ConversationState.ASSIGNED, user)
            case "unassign":
                rules.unassign(c, at)
                assert c.state is (ConversationState.WAITING if before is ConversationState.ASSIGNED else before)
            case "close":
                rules.close(c, at)
                assert c.state is ConversationState.CLOSED
            case "receive":
                rules.receive(c, at, count, at)
                unread += count
                assert c.state is (ConversationState.BOT if before is ConversationState.CLOSED else before)
            case "reply":
                holder = c.assignee_id
                rules.agent_replied(c, user, at)
                assert c.assignee_id == (user if before is ConversationState.WAITING else holder)
            case "read":
                rules.mark_read(c, at)
                unread = 0
        assert c.unread_count == unread
        assert c.updated_at >= T0
        check_invariants(c)
