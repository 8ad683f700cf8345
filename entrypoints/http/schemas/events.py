"""Live event schemas: the stream ticket."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from entrypoints.http.schemas.common import ResponseModel


class EventTicketOut(ResponseModel):
    """A single-use ticket for `GET /events?ticket=...`: valid for 60 seconds, spent by the first stream that
    presents it (a reconnect needs a new one)."""

    ticket: str = Field(description="Opaque; send it as the `ticket` query parameter of `GET /events`")
    expires_at: datetime
