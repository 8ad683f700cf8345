"""Who opened a stream of an organization's live events."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.authorization import Actor, Permission


@dataclass(frozen=True, slots=True)
class Listener:
    """Who opened a stream: its events are those of ``organization_id`` only."""

    organization_id: UUID
    user_id: UUID


def listener_of(actor: Actor) -> Listener:
    actor.require(Permission.READ)
    return Listener(organization_id=actor.organization_id, user_id=actor.user_id)
