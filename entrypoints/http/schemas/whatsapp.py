"""WhatsApp schemas: numbers (contract WhatsAppNumber + additive fields), sends, messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, model_validator

from entrypoints.http.schemas.common import RequestModel, ResponseModel
from entrypoints.http.schemas.send import SendIn

__all__ = ["SendIn"]


class SendingPauseOut(ResponseModel):
    """The number's circuit breaker is open: its queued messages wait (none fails for it) and resume by themselves."""

    graph_code: int = Field(description="Meta's error that paused sending: 131048 spam rate limit, 368 temporarily "
                                        "blocked for policy violations, 190 access token expired or invalid")
    reason: str | None = Field(default=None, description="What Meta said")
    since: datetime | None = None
    until: datetime | None = Field(default=None, description="When sending resumes; null: once the access token "
                                                             "is changed in the vault (PUT or rotate with a value)")


class WhatsAppNumberOut(ResponseModel):
    id: UUID
    phone_number: str
    display_name: str
    status: Literal["active", "inactive", "pending"]
    verified: bool
    organization_id: UUID
    phone_number_id: str
    waba_id: str | None = None
    access_token_secret_id: UUID
    quality_rating: str | None = None
    throughput_mps: int = Field(description="Messages per second the sender allows: 80, or 1000 after Meta's "
                                            "THROUGHPUT_UPGRADE (phone_number_quality_update webhook).")
    last_error: str | None = None
    account_status: Literal["restricted", "banned"] | None = Field(
        default=None, description="The WhatsApp Business Account's standing from Meta's account_update webhook: "
                                  "`banned` stops sending (queued messages fail), `restricted` is informative; "
                                  "null in good standing or after a reinstatement.")
    account_status_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    sending_pause: SendingPauseOut | None = Field(default=None, description="Set while sending on the number is "
                                                                            "paused (circuit breaker)")

    @model_validator(mode="before")
    @classmethod
    def _with_pause(cls, data: Any) -> Any:
        """From a number entity: its fields, and its breaker while it is open."""
        paused = getattr(data, "sending_paused", None)
        if not callable(paused):
            return data
        values = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
        if paused(datetime.now(UTC)):
            values["sending_pause"] = SendingPauseOut(graph_code=data.send_pause_code, reason=data.send_pause_reason,
                                                      since=data.send_paused_at, until=data.send_paused_until)
        return values


class RegisterNumberIn(RequestModel):
    phone_number_id: str = Field(min_length=1, max_length=32, examples=["106540352242922"])
    waba_id: str | None = Field(default=None, max_length=32)
    access_token_secret_id: UUID = Field(description="Vault secret holding the number's access token")


class SendOut(ResponseModel):
    message_id: UUID
    status: str


class StatusEventOut(ResponseModel):
    status: str
    occurred_at: datetime
    error_code: int | None = None
    error_title: str | None = None


class MessageOut(ResponseModel):
    id: UUID
    direction: Literal["inbound", "outbound", "system"] = Field(
        description="`system`: a notice Meta reported in the conversation (the user changed number or BSUID, "
                    "their identity key changed); `content.system_type` says which. Not the user's words: it "
                    "does not open the 24-hour window.")
    type: str
    content: dict[str, Any] = Field(description=(
        "What the message carries. `text` (text body, caption, reply title, a summary for location/contacts/"
        "orders), `reply_id` (button/list reply id or button payload), `media_id` and `media` (id, mime_type, "
        "sha256, filename, caption, voice, animated), `location`, `contacts` (vCards), `order`, `referral` "
        "(click-to-WhatsApp ad), `list_reply`/`button_reply`, `nfm_reply` (name, body, response), "
        "`context_wamid`, `forwarded`, `frequently_forwarded`, `errors` (unsupported messages); what happened "
        "to it later: `reactions` ([{by, emoji, at, wamid}]), `edited_at`, `edits` (previous versions, oldest "
        "first), `deleted`. Inbound media bytes: `GET /whatsapp/media/{message_id}`."))
    status: str
    wamid: str | None = None
    number_id: UUID
    contact_id: UUID | None = None
    organization_id: UUID
    source: str
    error_code: int | None = None
    error_title: str | None = None
    occurred_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    deleted_at: datetime | None = Field(
        default=None, description="When the contact deleted the message for everyone (its text, media and edit "
                                  "history are no longer kept; `content.deleted` is true).")
    created_at: datetime
    updated_at: datetime


class MessageDetailOut(MessageOut):
    status_history: list[StatusEventOut]


class WebhookAck(ResponseModel):
    status: Literal["received", "duplicate"]


class TemplateSyncOut(ResponseModel):
    status: Literal["queued"] = Field(description="A sync that starts after this request is queued; the worker "
                                                  "reads every template of the WABA from Meta")
    number_id: UUID
    waba_id: str = Field(description="The WhatsApp Business Account whose templates are synced")
    already_queued: bool = Field(description="True when a sync of this WABA was already waiting to run (it will do; "
                                             "no other one was queued)")


class MessageTemplateOut(ResponseModel):
    id: UUID
    organization_id: UUID
    waba_id: str
    meta_template_id: str = Field(description="Meta's template id")
    name: str
    language: str
    category: str | None = Field(default=None, description="MARKETING, UTILITY or AUTHENTICATION")
    status: str = Field(description="Meta's status (APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...); DELETED when "
                                    "Meta stopped listing it")
    quality_score: str | None = Field(default=None, description="GREEN, YELLOW, RED or UNKNOWN")
    components: list[dict[str, Any]] = Field(description="The template's components as Meta lists them")
    parameter_format: str | None = Field(default=None, description="POSITIONAL or NAMED")
    rejected_reason: str | None = None
    synced_at: datetime = Field(description="When a sync last read it from Meta")
    updated_at: datetime = Field(description="When it last changed (sync or webhook)")
class MediaUploadOut(ResponseModel):
    """A file uploaded to WhatsApp for a number: ``queued`` until the worker has Meta's ``media_id``, then
    ``uploaded`` (send it with ``{"image": {"id": media_id}}``...) or ``failed`` (``error_code``, ``error``)."""

    id: UUID
    number_id: UUID
    status: Literal["queued", "uploaded", "failed"]
    media_id: str | None = Field(default=None, description="Meta's media id, for sends (valid 30 days)")
    kind: Literal["image", "video", "audio", "document", "sticker"] = Field(description="How to send it")
    filename: str
    mime_type: str
    size_bytes: int
    error_code: int | None = None
    error: str | None = None
    created_at: datetime
    uploaded_at: datetime | None = None
