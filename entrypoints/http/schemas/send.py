"""``POST /whatsapp/send`` and ``POST /whatsapp/messages/{id}/read``: Meta's message objects, by their names."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from entrypoints.http.schemas.common import RequestModel, free_json

MessageType = Literal["text", "template", "interactive", "image", "video", "audio", "document", "sticker",
                      "reaction", "location", "contacts"]


class ButtonIn(RequestModel):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class MediaIn(RequestModel):
    """Exactly one of ``id`` (from ``POST /whatsapp/numbers/{id}/media``) and ``link`` (a hosted file)."""

    id: str | None = Field(default=None, max_length=64, pattern=r"^[0-9]+$", description="Meta's media id")
    link: str | None = Field(default=None, max_length=2048, description="An http(s) URL Meta downloads")
    caption: str | None = Field(default=None, max_length=1024, description="Not for audio and stickers")
    filename: str | None = Field(default=None, max_length=240, description="Documents only")


class HeaderIn(RequestModel):
    """A reply-button message's header: text, or an image, video or document (by ``id`` or ``link``)."""

    type: Literal["text", "image", "video", "document"]
    text: str | None = Field(default=None, max_length=60)
    image: MediaIn | None = None
    video: MediaIn | None = None
    document: MediaIn | None = None


class ReactionIn(RequestModel):
    message_id: str = Field(min_length=1, max_length=256, description="The wamid reacted to")
    emoji: str = Field(max_length=16, description="One emoji; an empty string removes the reaction")


class LocationIn(RequestModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    name: str | None = Field(default=None, min_length=1, max_length=1000)
    address: str | None = Field(default=None, min_length=1, max_length=1000)


class _Card(RequestModel):
    type: str | None = Field(default=None, max_length=32, description="e.g. HOME, WORK, CELL")


class ContactNameIn(RequestModel):
    formatted_name: str = Field(min_length=1, max_length=256)
    first_name: str | None = Field(default=None, max_length=256)
    last_name: str | None = Field(default=None, max_length=256)
    middle_name: str | None = Field(default=None, max_length=256)
    suffix: str | None = Field(default=None, max_length=64)
    prefix: str | None = Field(default=None, max_length=64)


class ContactPhoneIn(_Card):
    phone: str | None = Field(default=None, max_length=64)
    wa_id: str | None = Field(default=None, max_length=64)


class ContactEmailIn(_Card):
    email: str = Field(min_length=3, max_length=320)


class ContactUrlIn(_Card):
    url: str = Field(min_length=1, max_length=2048)


class ContactAddressIn(_Card):
    street: str | None = Field(default=None, max_length=512)
    city: str | None = Field(default=None, max_length=256)
    state: str | None = Field(default=None, max_length=256)
    zip: str | None = Field(default=None, max_length=32)
    country: str | None = Field(default=None, max_length=256)
    country_code: str | None = Field(default=None, max_length=8)


class ContactOrgIn(RequestModel):
    company: str | None = Field(default=None, max_length=256)
    department: str | None = Field(default=None, max_length=256)
    title: str | None = Field(default=None, max_length=256)


class ContactCardIn(RequestModel):
    """One contact card in Meta's shape (``name.formatted_name`` required)."""

    name: ContactNameIn
    phones: list[ContactPhoneIn] = Field(default_factory=list, max_length=20)
    emails: list[ContactEmailIn] = Field(default_factory=list, max_length=20)
    urls: list[ContactUrlIn] = Field(default_factory=list, max_length=20)
    addresses: list[ContactAddressIn] = Field(default_factory=list, max_length=10)
    org: ContactOrgIn | None = None
    birthday: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")


class ContextIn(RequestModel):
    message_id: str = Field(min_length=1, max_length=256, description="The wamid this message replies to")


class SendIn(RequestModel):
    to: str = Field(min_length=1, max_length=128,
                    description="WhatsApp id (E.164 digits; '+', spaces, dashes ok), or a contact's BSUID "
                                "(`US.1349...`: sent with Meta's `recipient` field)")
    message: str | None = Field(default=None, max_length=4096, description="Text (body for interactive)")
    type: MessageType = "text"
    template_id: str | None = Field(default=None, max_length=512, pattern=r"^[a-z0-9_]+$",
                                    description="Approved template name (type=template)")
    language: str = Field(default="en_US", max_length=15, description="Template language code")
    components: list[dict[str, Any]] = free_json("Template components in Meta's JSON.", default_factory=list,
                                                 max_length=20)
    buttons: list[ButtonIn] = Field(default_factory=list, max_length=3, description="Reply buttons (interactive)")
    header: HeaderIn | None = Field(default=None, description="Reply-button header (interactive)")
    footer: str | None = Field(default=None, max_length=60, description="Reply-button footer (interactive)")
    image: MediaIn | None = None
    video: MediaIn | None = None
    audio: MediaIn | None = None
    document: MediaIn | None = None
    sticker: MediaIn | None = None
    reaction: ReactionIn | None = None
    location: LocationIn | None = None
    contacts: list[ContactCardIn] = Field(default_factory=list, max_length=257)
    context: ContextIn | None = Field(default=None, description="Reply to (quote) an earlier message")
    from_number_id: UUID | None = Field(default=None, description="Sender; default: the first active number")

    def media(self) -> dict[str, Any] | None:
        media = getattr(self, self.type, None) if self.type in ("image", "video", "audio", "document",
                                                                "sticker") else None
        return _plain(media)

    def header_json(self) -> dict[str, Any] | None:
        return _plain(self.header)


class MarkReadIn(RequestModel):
    typing_indicator: bool = Field(default=False, description="Also show the typing indicator (up to 25 s, or until "
                                                              "you reply): only when a reply is coming")


def _plain(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(exclude_none=True) if model is not None else None


def cards(contacts: list[ContactCardIn]) -> list[dict[str, Any]]:
    """Meta's contact cards: given fields only, empty lists left out."""
    return [{k: v for k, v in card.model_dump(exclude_none=True).items() if v != []} for card in contacts]
