"""Starting a flow execution for a contact, as other features (automations) need it."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from application.ports.uow import UnitOfWork
from domain.channel import WhatsAppNumber
from domain.contacts import Contact


class FlowStarter(Protocol):
    """Starts a flow execution for a contact inside the caller's transaction (the flow runtime)."""

    @abstractmethod
    async def start(self, uow: UnitOfWork, *, flow_id: UUID, number: WhatsAppNumber, contact: Contact,
                    variables: Mapping[str, Any], trigger: str, automation_id: UUID | None,
                    now: datetime) -> UUID | None:
        """The new execution's id (None when the contact already has a running execution)."""
