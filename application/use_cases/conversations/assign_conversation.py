"""Take a conversation, let go of it, or give it to someone (admins)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.authorization import Actor, Permission
from application.messaging import conversations
from application.ports.common import Clock
from application.ports.conversations import ConversationSummary
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.conversations.common import _locked, _summary
from domain.conversations import ConversationAlreadyAssigned, InvalidAssignee
from domain.errors import PermissionDenied
from domain.identity import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class AssignCommand:
    conversation_id: UUID
    user_id: UUID | None


class NotYourConversation(PermissionDenied):
    code = "not_your_conversation"
    default_message = "Agents take unassigned conversations for themselves and let go of their own only."


class AssignConversation:
    """An agent takes an unassigned conversation (``user_id`` = themselves) or lets go of their own (None);
    an admin gives it to any active agent or admin of the organization, or takes it from whoever has it."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: AssignCommand) -> ConversationSummary:
        actor.require(Permission.SEND_MESSAGES)
        admin = actor.can(Permission.MANAGE_USERS)
        if not admin and cmd.user_id not in (None, actor.user_id):
            raise NotYourConversation()
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            conversation = await _locked(uow, cmd.conversation_id)
            if not admin:
                holder = conversation.assignee_id
                if cmd.user_id is None and holder not in (None, actor.user_id):
                    raise NotYourConversation()
                if cmd.user_id is not None and holder not in (None, actor.user_id):
                    raise ConversationAlreadyAssigned()
            if cmd.user_id is not None and cmd.user_id != actor.user_id:
                user = await uow.users.get(cmd.user_id)
                if user is None or not user.is_active or not user.role.at_least(Role.AGENT):
                    raise InvalidAssignee()
            await conversations.assign(uow, conversation, cmd.user_id, now)
            summary = await _summary(uow, conversation.id)
            await uow.commit()
        return summary
