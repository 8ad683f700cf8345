"""What the fake Graph API knows and records: numbers, tokens, injected failures, every request.

All mutation goes through one lock: the server answers on its own thread while tests read.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.fake_graph.faults import GraphFault


@dataclass
class FakeNumber:
    phone_number_id: str
    tokens: set[str]
    display_phone_number: str = "15550783881"
    verified_name: str = "PyTake Test"
    quality_rating: str = "GREEN"
    code_verification_status: str = "VERIFIED"
    status: str = "CONNECTED"
    throughput_level: str = "STANDARD"
    token_expired: bool = False
    waba_id: str | None = None
    """When set and the fake knows that WABA, template sends are checked against its templates like Meta does."""

    def details(self) -> dict[str, Any]:
        return {
            "id": self.phone_number_id, "display_phone_number": self.display_phone_number,
            "verified_name": self.verified_name, "quality_rating": self.quality_rating,
            "code_verification_status": self.code_verification_status, "status": self.status,
            "platform_type": "CLOUD_API", "throughput": {"level": self.throughput_level},
        }


@dataclass
class FakeMedia:
    """An uploaded or received media object: ``GET /{media_id}`` answers its metadata and a short-lived URL."""

    media_id: str
    data: bytes
    mime_type: str
    phone_number_id: str
    sha256: str  # what Meta reports (hex of the SHA-256); a test may set a wrong one
    url_ttl: float = 300.0  # Meta: the download URL is valid for five minutes
    downloads: int = 0


@dataclass
class FakeWaba:
    """A WhatsApp Business Account: the tokens that may read it and its templates (Meta's JSON, in order)."""

    waba_id: str
    tokens: set[str]
    templates: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received. ``headers`` has the Authorization value redacted."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any
    at: float
    status: int
    token_valid: bool


@dataclass(frozen=True, slots=True)
class AcceptedSend:
    """An accepted send. ``to`` is the value sent; ``recipient`` its digits (or the BSUID)."""

    phone_number_id: str
    wamid: str
    to: str | None
    recipient: str
    type: str
    content: Any
    body: dict[str, Any]
    biz_opaque_callback_data: str | None
    context_wamid: str | None
    at: float


@dataclass(frozen=True, slots=True)
class UploadedMedia:
    """A file accepted by ``POST /{phone_number_id}/media``."""

    id: str
    phone_number_id: str
    mime_type: str
    filename: str
    content: bytes


@dataclass
class _Failures:
    queue: deque[GraphFault] = field(default_factory=deque)
    by_recipient: dict[str, GraphFault] = field(default_factory=dict)
    rate: float = 0.0
    random_faults: tuple[GraphFault, ...] = ()
    rng: random.Random = field(default_factory=random.Random)


class FakeGraph:
    """The fake's state and knobs; :class:`tests.fake_graph.server.FakeGraphServer` serves it over HTTP."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers: dict[str, FakeNumber] = {}
        self._failures = _Failures()
        self._requests: list[RecordedRequest] = []
        self._sent: list[AcceptedSend] = []
        self._read: list[tuple[str, str]] = []
        self._typing: list[tuple[str, str]] = []
        self._media: dict[str, UploadedMedia] = {}
        self._send_times: dict[str, deque[float]] = {}
        self._delay = 0.0
        self._max_mps: int | None = None
        self._generation = 0
        self._unavailable: set[str] = set()
        self._media: dict[str, FakeMedia] = {}
        self._media_urls: dict[str, tuple[str, float]] = {}  # url key -> (media id, expires at, monotonic)
        self._wabas: dict[str, FakeWaba] = {}

    # --- setup ----------------------------------------------------------------------------------

    def add_number(
        self, phone_number_id: str, token: str, *, display_phone_number: str = "15550783881",
        verified_name: str = "PyTake Test", **extra: Any,
    ) -> FakeNumber:
        """Register a number (or another valid token for it). ``extra`` sets other FakeNumber fields."""
        with self._lock:
            number = self._numbers.get(phone_number_id)
            if number is None:
                number = FakeNumber(phone_number_id, {token}, display_phone_number, verified_name, **extra)
                self._numbers[phone_number_id] = number
            else:
                number.tokens.add(token)
            return number

    def add_media(self, media_id: str, data: bytes, mime_type: str, phone_number_id: str, *,
                  sha256: str | None = None, url_ttl: float = 300.0) -> FakeMedia:
        """A media object the number's tokens may read (``GET /{media_id}``, then its URL)."""
        media = FakeMedia(media_id, data, mime_type, phone_number_id, sha256 or hashlib.sha256(data).hexdigest(),
                          url_ttl)
        with self._lock:
            self._media[media_id] = media
        return media

    def media(self, media_id: str) -> FakeMedia | None:
        with self._lock:
            return self._media.get(media_id)

    def media_url_key(self, media_id: str) -> str:
        """A new short-lived download key for the media (what the URL of ``GET /{media_id}`` carries)."""
        key = secrets.token_urlsafe(16)
        with self._lock:
            media = self._media[media_id]
            self._media_urls[key] = (media_id, time.monotonic() + media.url_ttl)
        return key

    def media_for_key(self, key: str) -> FakeMedia | None:
        """The media of a download key still valid, counting the download; None when unknown or expired."""
        with self._lock:
            found = self._media_urls.get(key)
            if found is None or time.monotonic() > found[1]:
                return None
            media = self._media[found[0]]
            media.downloads += 1
            return media

    def add_waba(self, waba_id: str, token: str) -> FakeWaba:
        """Register a WABA (or another token that may read it)."""
        with self._lock:
            waba = self._wabas.setdefault(waba_id, FakeWaba(waba_id, set()))
            waba.tokens.add(token)
            return waba

    def set_templates(self, waba_id: str, templates: list[dict[str, Any]]) -> None:
        """The WABA's templates as ``GET /{waba_id}/message_templates`` lists them (see fake_graph.templates)."""
        with self._lock:
            self._wabas[waba_id].templates = [dict(t) for t in templates]

    def waba(self, waba_id: str) -> FakeWaba | None:
        with self._lock:
            found = self._wabas.get(waba_id)
            return None if found is None else FakeWaba(found.waba_id, set(found.tokens), list(found.templates))

    def fail_next(
        self, times: int = 1, code: int = 130429, http_status: int = 400, *, message: str | None = None,
        details: str | None = None, json_body: bool = True, retry_after: int | None = None,
        regain_access_minutes: int | None = None,
    ) -> None:
        """The next ``times`` authorized POSTs to ``/messages`` (sends and mark-read) answer this error."""
        fault = GraphFault(code, http_status, message=message, details=details, json_body=json_body,
                           retry_after=retry_after, regain_access_minutes=regain_access_minutes)
        with self._lock:
            self._failures.queue.extend([fault] * times)

    def fail_for(
        self, to: str, code: int | None = 131047, http_status: int = 400, *, details: str | None = None,
    ) -> None:
        """Every valid send to ``to`` (any formatting) answers this error; ``code=None`` clears it."""
        key = "".join(char for char in to if char.isdigit()) or to
        with self._lock:
            if code is None:
                self._failures.by_recipient.pop(key, None)
            else:
                self._failures.by_recipient[key] = GraphFault(code, http_status, details=details)

    def fail_randomly(self, rate: float, faults: list[GraphFault], *, seed: int = 0) -> None:
        """Soak knob: each authorized POST to ``/messages`` answers one of ``faults`` (chosen at random) with
        probability ``rate``, after the queued failures of :meth:`fail_next`. ``rate=0`` turns it off."""
        with self._lock:
            self._failures.rate, self._failures.random_faults = rate, tuple(faults)
            self._failures.rng = random.Random(seed)

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    def set_unavailable(self, phone_number_id: str, unavailable: bool = True) -> None:
        """Every request about this number answers a bare 503 (a Graph outage for it) until set back."""
        with self._lock:
            (self._unavailable.add if unavailable else self._unavailable.discard)(phone_number_id)

    def is_unavailable(self, phone_number_id: str | None) -> bool:
        with self._lock:
            return phone_number_id in self._unavailable

    def set_token_expired(self, phone_number_id: str, expired: bool = True) -> None:
        with self._lock:
            self._numbers[phone_number_id].token_expired = expired

    @property
    def max_mps(self) -> int | None:
        """Accepted sends per rolling second per number; past it sends answer 130429."""
        return self._max_mps

    @max_mps.setter
    def max_mps(self, value: int | None) -> None:
        with self._lock:
            self._max_mps = value

    def reset(self, *, keep_numbers: bool = True) -> None:
        """Forget records and failure knobs (and the numbers unless ``keep_numbers``)."""
        with self._lock:
            self._generation += 1
            self._failures = _Failures()
            self._requests.clear()
            self._sent.clear()
            self._read.clear()
            self._typing.clear()
            self._media.clear()
            self._send_times.clear()
            self._media.clear()
            self._media_urls.clear()
            self._delay, self._max_mps = 0.0, None
            self._unavailable.clear()
            if not keep_numbers:
                self._numbers.clear()
                self._wabas.clear()
            for number in self._numbers.values():
                number.token_expired = False

    # --- records --------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def sent_messages(self) -> list[AcceptedSend]:
        with self._lock:
            return list(self._sent)

    @property
    def typing_shown(self) -> list[tuple[str, str]]:
        """``(phone_number_id, wamid)`` of every mark-as-read that asked for the typing indicator."""
        with self._lock:
            return list(self._typing)

    @property
    def uploaded_media(self) -> dict[str, UploadedMedia]:
        """Every accepted upload by media id."""
        with self._lock:
            return dict(self._media)

    def accept_upload(self, phone_number_id: str, mime_type: str, filename: str, content: bytes) -> UploadedMedia:
        with self._lock:
            media = UploadedMedia(id=str(10**15 + len(self._media) * 7919 + random.randrange(1000)),
                                  phone_number_id=phone_number_id, mime_type=mime_type, filename=filename,
                                  content=content)
            self._media[media.id] = media
            return media

    @property
    def marked_read(self) -> list[tuple[str, str]]:
        """``(phone_number_id, wamid)`` of every accepted mark-as-read."""
        with self._lock:
            return list(self._read)

    # --- used by the app ------------------------------------------------------------------------

    @property
    def delay(self) -> float:
        return self._delay

    @property
    def generation(self) -> int:
        """Bumped by :meth:`reset`; a request that straddles a reset is answered but not recorded."""
        return self._generation

    def number(self, phone_number_id: str) -> FakeNumber | None:
        with self._lock:
            return self._numbers.get(phone_number_id)

    def token_known(self, token: str) -> bool:
        with self._lock:
            return any(token in number.tokens for number in self._numbers.values()) or any(
                token in waba.tokens for waba in self._wabas.values())

    def record_request(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def take_injected_failure(self) -> GraphFault | None:
        with self._lock:
            failures = self._failures
            if failures.queue:
                return failures.queue.popleft()
            if failures.rate and failures.random_faults and failures.rng.random() < failures.rate:
                return failures.rng.choice(failures.random_faults)
            return None

    def failure_for(self, recipient: str) -> GraphFault | None:
        with self._lock:
            return self._failures.by_recipient.get(recipient)

    def accept_send(
        self, phone_number_id: str, body: Mapping[str, Any], recipient: str
    ) -> AcceptedSend | None:
        """Record an accepted send; None when the number's rolling-second throughput is used up."""
        now = time.monotonic()
        with self._lock:
            window = self._send_times.setdefault(phone_number_id, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if self._max_mps is not None and len(window) >= self._max_mps:
                return None
            window.append(now)
            kind = str(body.get("type", "text"))
            context = body.get("context")
            tracking = body.get("biz_opaque_callback_data")
            sent = AcceptedSend(
                phone_number_id=phone_number_id, wamid=new_wamid(), to=body.get("to"), recipient=recipient,
                type=kind, content=body.get(kind), body=dict(body),
                biz_opaque_callback_data=tracking if isinstance(tracking, str) else None,
                context_wamid=context.get("message_id") if isinstance(context, Mapping) else None, at=now,
            )
            self._sent.append(sent)
            return sent

    def accept_read(self, phone_number_id: str, wamid: str, *, typing: bool = False) -> None:
        with self._lock:
            self._read.append((phone_number_id, wamid))
            if typing:
                self._typing.append((phone_number_id, wamid))


def new_wamid() -> str:
    """A unique id shaped like Meta's (``wamid.`` + base64)."""
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + uuid.uuid4().bytes).decode("ascii")
