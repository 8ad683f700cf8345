"""Ports of message templates: the stored copy of each WABA's templates, and Meta's catalog they are synced from."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.templates import MessageTemplate


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteTemplate:
    """A template as ``GET /{waba_id}/message_templates`` lists it."""

    meta_template_id: str
    name: str
    language: str
    status: str
    category: str | None = None
    quality_score: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)
    parameter_format: str | None = None
    rejected_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplatePage:
    templates: list[RemoteTemplate]
    after: str | None = None
    """The cursor of the next page; None on the last page."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateChange:
    """What a template webhook says about one template (only the fields it carries are set)."""

    waba_id: str
    meta_template_id: str
    status: str | None = None
    quality_score: str | None = None
    category: str | None = None
    rejected_reason: str | None = None
    name: str | None = None
    language: str | None = None
    occurred_at: datetime | None = None
    """Meta's time of the change (the webhook entry's ``time``): a change older than the last one applied, or than
    the last sync's read, is stale and ignored (Meta retries deliveries for days, in any order)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateFilter:
    waba_ids: Sequence[str] | None = None  # None: every WABA of the organization
    status: str | None = None
    query: str | None = None  # case-insensitive substring of the name


class MessageTemplateRepository(Protocol):
    """Organization-scoped, except ``apply_changes_any_org`` (system scope: webhooks name a WABA, not a tenant)."""

    @abstractmethod
    async def replace_for_waba(self, waba_id: str, templates: Sequence[RemoteTemplate], now: datetime) -> int:
        """Upsert every listed template of the WABA (keyed by name and language; ``synced_at = now``) and mark the
        organization's other templates of the WABA ``DELETED``; returns how many were marked."""

    @abstractmethod
    async def get(self, waba_id: str, name: str, language: str) -> MessageTemplate | None: ...

    @abstractmethod
    async def has_any(self, waba_id: str) -> bool:
        """Whether the WABA's templates were ever synced in this organization."""

    @abstractmethod
    async def list(self, criteria: TemplateFilter, *, limit: int, offset: int) -> tuple[list[MessageTemplate], int]:
        """By name then language, with the total."""

    @abstractmethod
    async def apply_changes_any_org(self, changes: Sequence[TemplateChange], now: datetime) -> int:
        """System scope: sets the given fields of every stored copy of each template (by WABA and Meta id, else
        name and language), unless the change is stale (``occurred_at`` before the copy's last applied change or
        before the second its last sync started reading); returns the rows changed."""


class TemplateCatalog(Protocol):
    """Meta's list of a WABA's templates (Graph API), read with the number's access token."""

    @abstractmethod
    async def templates_page(self, waba_id: str, access_token: str, after: str | None = None) -> TemplatePage:
        """One page of ``GET /{waba_id}/message_templates``; raises GraphApiError subclasses."""
