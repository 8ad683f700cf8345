"""Search contacts: a read in one read-only transaction of the listing's own (no unit of work)."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.contacts import ContactListing
from domain.contacts import Contact


class SearchContacts:
    """A read: one read-only transaction of the listing's own (no unit of work)."""

    def __init__(self, *, listing: ContactListing) -> None:
        self._listing = listing

    async def execute(self, actor: Actor, *, query: str | None, limit: int,
                      offset: int) -> tuple[list[Contact], int]:
        actor.require(Permission.READ)
        text = (query or "").strip() or None
        return await self._listing.search(actor.organization_id, query=text, limit=limit, offset=offset)
