"""The webhook's own ASGI layer: what the framework's stack gave the route, kept without the stack (ids, error
shape, limits, metrics, a sender that hangs up), and every other request handed on untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from adapters.whatsapp.decoder import MetaWebhookDecoder
from application.ports.channel import InboxItem, WebhookInbox
from application.ports.uow import DatabaseUnavailable
from application.use_cases.whatsapp.ingest_webhook import IngestWebhook
from entrypoints.http import webhook_ingress
from entrypoints.http.webhook_ingress import MAX_WEBHOOK_BYTES, WEBHOOK_PATH, WebhookIngress
from tests.fake_graph import builders
from tests.fakes import FakeClock

pytestmark = pytest.mark.unit

SECRET = "ingress-app-secret"


class MemoryInbox(WebhookInbox):
    def __init__(self, failure: Exception | None = None) -> None:
        self.items: list[InboxItem] = []
        self.failure = failure

    async def add(self, item: InboxItem) -> bool:
        if self.failure is not None:
            raise self.failure
        if any(stored.body_sha256 == item.body_sha256 for stored in self.items):
            return False
        self.items.append(item)
        return True


class Downstream:
    """The application behind the layer: records what reached it."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def layer(inbox: MemoryInbox) -> tuple[WebhookIngress, Downstream]:
    downstream = Downstream()
    use_case = IngestWebhook(inbox=inbox, decoder=MetaWebhookDecoder(app_secret=SECRET), clock=FakeClock())
    return WebhookIngress(downstream, use_case=lambda: use_case), downstream


def signed_body() -> tuple[bytes, str]:
    body = builders.webhook_body(builders.inbound_text("106540352242922", "5511987654321", "Oi"))
    return body, builders.sign(SECRET, body)


async def call(app: Any, *, method: str = "POST", path: str = WEBHOOK_PATH, body: bytes = b"",
               headers: dict[str, str] | None = None, chunks: list[bytes] | None = None,
               disconnect: bool = False) -> tuple[int | None, dict[str, str], bytes]:
    parts = chunks if chunks is not None else [body]
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
                                      for i, part in enumerate(parts)]
    if disconnect:
        messages = [*messages[:1], {"type": "http.disconnect"}]
        messages[0]["more_body"] = True
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if not sent:
        return None, {}, b""
    start = sent[0]
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


def requests_counted(status: str) -> float:
    return REGISTRY.get_sample_value("pytake_http_requests_total", {
        "method": "POST", "route": WEBHOOK_PATH, "status": status}) or 0.0


async def test_a_signed_delivery_is_stored_once_and_acknowledged_with_a_request_id() -> None:
    inbox = MemoryInbox()
    app, downstream = layer(inbox)
    body, signature = signed_body()
    before = requests_counted("200")
    status, headers, answer = await call(app, body=body, headers={"X-Hub-Signature-256": signature})
    assert (status, json.loads(answer)) == (200, {"status": "received"})
    assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(answer)
    assert len(headers["x-request-id"]) == 32 and int(headers["x-request-id"], 16) >= 0
    again = await call(app, path=WEBHOOK_PATH + "/", body=body,
                       headers={"X-Hub-Signature-256": signature, "X-Request-ID": "meta-retry.7"})
    assert (again[0], json.loads(again[2]), again[1]["x-request-id"]) == (200, {"status": "duplicate"}, "meta-retry.7")
    assert [item.body for item in inbox.items] == [body] and inbox.items[0].sender_keys
    assert downstream.scopes == []
    assert requests_counted("200") == before + 2
    other = await call(app, body=body, headers={"X-Hub-Signature-256": signature, "X-Request-ID": "bad id\n"})
    assert other[1]["x-request-id"] != "bad id\n" and len(other[1]["x-request-id"]) == 32


async def test_request_ids_differ_between_requests() -> None:
    app, _ = layer(MemoryInbox())
    ids = {(await call(app, body=b"{}", headers={"X-Hub-Signature-256": "sha256=00"}))[1]["x-request-id"]
           for _ in range(50)}
    assert len(ids) == 50


async def test_a_bad_signature_is_401_in_the_error_shape_and_nothing_is_stored() -> None:
    inbox = MemoryInbox()
    app, _ = layer(inbox)
    body, _ = signed_body()
    status, headers, answer = await call(app, body=body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert status == 401 and json.loads(answer) == {
        "detail": "Missing or invalid X-Hub-Signature-256.", "status_code": 401, "error_code": "invalid_signature"}
    assert (await call(app, body=body))[0] == 401  # no signature at all
    assert inbox.items == []


async def test_too_large_bodies_are_413_whether_declared_or_streamed() -> None:
    inbox = MemoryInbox()
    app, _ = layer(inbox)
    declared = await call(app, body=b"{}", headers={"Content-Length": str(MAX_WEBHOOK_BYTES + 1)})
    chunk = b"x" * (1024 * 1024)
    streamed = await call(app, chunks=[chunk] * 5)  # chunked: no Content-Length to trust
    for status, _, answer in (declared, streamed):
        assert status == 413 and json.loads(answer)["error_code"] == "payload_too_large"
    assert inbox.items == []


async def test_a_body_in_several_chunks_is_joined_before_the_signature_check() -> None:
    inbox = MemoryInbox()
    app, _ = layer(inbox)
    body, signature = signed_body()
    status, _, _ = await call(app, chunks=[body[:10], body[10:50], body[50:]],
                              headers={"X-Hub-Signature-256": signature})
    assert status == 200 and inbox.items[0].body == body


async def test_an_unavailable_database_is_503_with_retry_after() -> None:
    app, _ = layer(MemoryInbox(failure=DatabaseUnavailable()))
    body, signature = signed_body()
    status, headers, answer = await call(app, body=body, headers={"X-Hub-Signature-256": signature})
    assert status == 503 and headers["retry-after"] == "5"
    assert json.loads(answer)["error_code"] == "database_unavailable"


class RecordingLog:
    """Stands in for the module's structlog logger (whose configuration may cache it for the process)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **fields: Any) -> None:
            self.entries.append({"event": event, "log_level": "error" if level == "exception" else level, **fields})
        return record


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    recording = RecordingLog()
    monkeypatch.setattr(webhook_ingress, "log", recording)
    return recording.entries


async def test_an_unexpected_failure_is_a_logged_500_in_the_error_shape(logs: list[dict[str, Any]]) -> None:
    app, _ = layer(MemoryInbox(failure=RuntimeError("disk on fire")))
    body, signature = signed_body()
    status, headers, answer = await call(app, body=body, headers={"X-Hub-Signature-256": signature})
    assert status == 500 and json.loads(answer) == {
        "detail": "An internal error occurred.", "status_code": 500, "error_code": "internal_error"}
    assert "disk on fire" not in answer.decode() and headers["x-request-id"]
    [logged] = [entry for entry in logs if entry["event"] == "unhandled_error"]
    assert logged["log_level"] == "error" and logged["error_type"] == "RuntimeError"


async def test_a_sender_hanging_up_mid_body_is_not_an_error(logs: list[dict[str, Any]]) -> None:
    inbox = MemoryInbox()
    app, _ = layer(inbox)
    before = requests_counted("499")
    status, _, _ = await call(app, chunks=[b'{"object":', b"x"], disconnect=True)
    assert status is None and inbox.items == []  # nothing answered, nothing stored
    assert [(entry["event"], entry["log_level"]) for entry in logs] == [("client_disconnected", "info")]
    assert requests_counted("499") == before + 1


async def test_every_other_request_reaches_the_application_unchanged() -> None:
    app, downstream = layer(MemoryInbox())
    await call(app, method="GET", path=WEBHOOK_PATH + "?hub.mode=subscribe")  # the verification handshake
    await call(app, method="GET", path=WEBHOOK_PATH)
    await call(app, method="OPTIONS", path=WEBHOOK_PATH)  # a CORS preflight
    await call(app, method="POST", path="/api/v1/contacts", body=b"{}")
    await call(app, method="POST", path=WEBHOOK_PATH + "s", body=b"{}")
    assert [(s["method"], s["path"]) for s in downstream.scopes] == [
        ("GET", WEBHOOK_PATH + "?hub.mode=subscribe"), ("GET", WEBHOOK_PATH), ("OPTIONS", WEBHOOK_PATH),
        ("POST", "/api/v1/contacts"), ("POST", WEBHOOK_PATH + "s")]


def test_the_layer_is_installed_outermost_in_the_application(tmp_path: Any) -> None:
    from entrypoints.config import load_settings
    from entrypoints.http.app import create_app

    application = create_app(load_settings(env="test", data_dir=tmp_path, whatsapp_app_secret=SECRET),
                             database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none")  # never connected
    assert application.user_middleware[0].cls is WebhookIngress


async def test_the_framework_route_answers_the_same_without_the_layer(tmp_path: Any) -> None:
    """The FastAPI route (OpenAPI's, and the server's when the layer is not installed) shares accept_webhook."""
    import httpx
    from dependency_injector import providers

    from entrypoints.config import load_settings
    from entrypoints.http.app import create_app

    application = create_app(load_settings(env="test", data_dir=tmp_path, whatsapp_app_secret=SECRET),
                             database_url="postgresql+asyncpg://nobody@127.0.0.1:9/none")
    application.user_middleware = [m for m in application.user_middleware if m.cls is not WebhookIngress]
    inbox = MemoryInbox()
    use_case = IngestWebhook(inbox=inbox, decoder=MetaWebhookDecoder(app_secret=SECRET), clock=FakeClock())
    application.state.container.ingest_webhook.override(providers.Object(use_case))
    body, signature = signed_body()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as client:
        answers = [await client.post(WEBHOOK_PATH, content=content, headers=headers) for content, headers in (
            (body, {"X-Hub-Signature-256": signature}), (body, {"X-Hub-Signature-256": signature}),
            (body, {"X-Hub-Signature-256": "sha256=00"}),
            (b"{}", {"Content-Length": str(MAX_WEBHOOK_BYTES + 1)}))]
    assert [(a.status_code, a.json().get("status") or a.json()["error_code"]) for a in answers] == [
        (200, "received"), (200, "duplicate"), (401, "invalid_signature"), (413, "payload_too_large")]
    assert all("x-request-id" in a.headers for a in answers) and len(inbox.items) == 1
