"""The fuzzed application over real HTTP, and the organization it is fuzzed as.

The app is built from the test settings and database like the `app` fixture, but it runs in a uvicorn thread
with its own event loop (schemathesis calls are synchronous; the session `app` is bound to the pytest loop)."""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.fake_graph.server import FakeGraphServer
from tests.helpers import PASSWORD, unique_email

API = "/api/v1"
_START_TIMEOUT = 30.0


class _Server(uvicorn.Server):
    """uvicorn that leaves the test process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` (lifespan included) on 127.0.0.1:<ephemeral> in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY on accepted sockets
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", http="h11", loop="asyncio",
                            timeout_graceful_shutdown=1, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fuzzed-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fuzzed application did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        sock.close()


@dataclass
class Seeded:
    """An organization with some data, and its org_admin's access token."""

    access_token: str
    admin_user_id: str
    ids: dict[str, list[str]] = field(default_factory=dict)  # path parameter name -> existing ids

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def _ok(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return dict(response.json())


def seed(base_url: str, fake_graph: FakeGraphServer) -> Seeded:
    """Register an organization and fill it through the API: users, contacts, a secret, a WhatsApp number,
    a queued message, flows (a draft and an active one) and a flow automation."""
    with httpx.Client(base_url=base_url + API, timeout=30) as http:
        registered = _ok(http.post("/auth/register", json={
            "email": unique_email("fuzz"), "password": PASSWORD, "name": "Fuzz Admin",
            "organization_name": "Fuzzing Org"}), 201)
        seeded = Seeded(registered["access_token"], registered["user"]["id"])
        http.headers.update(seeded.headers)
        # another user: PATCH /users/{user_id} may demote or deactivate it, never the fuzzing admin
        viewer = _ok(http.post("/users", json={"email": unique_email("viewer"), "name": "Viewer",
                                               "role": "viewer", "password": PASSWORD}), 201)
        contacts = [_ok(http.post("/contacts", json={
            "whatsapp_id": f"55119{secrets.randbelow(10**8):08d}", "name": f"Contact {n}", "email": unique_email("c"),
            "tags": ["vip"] if n % 2 else [], "attributes": {"first": f"Name{n}", "plan": "gold"}}), 201)
            for n in range(3)]
        pnid, token = str(10**14 + secrets.randbelow(9 * 10**14)), "EAAG" + secrets.token_hex(12)
        fake_graph.add_number(pnid, token, display_phone_number="15550783881", verified_name="Fuzzing Org")
        wa_secret = _ok(http.post("/secrets/", json={"key": "WA_TOKEN", "value": token, "service": "whatsapp"}), 201)
        other_secret = _ok(http.post("/secrets/", json={"key": "CRM_API_KEY", "value": secrets.token_hex(16),
                                                        "service": "custom"}), 201)
        _ok(http.post("/whatsapp/numbers", json={"phone_number_id": pnid,
                                                 "access_token_secret_id": wa_secret["id"]}), 201)
        message = _ok(http.post("/whatsapp/send", json={"to": contacts[0]["whatsapp_id"], "type": "template",
                                                        "template_id": "order_update"}), 202)
        nodes = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
                 {"id": "hi", "type": "message", "position": {"x": 0, "y": 100}, "data": {"text": "Hi {{first}}"}}]
        edges = [{"id": "start-hi", "source": "start", "target": "hi"}]
        draft = _ok(http.post("/flows", json={"name": "Draft flow", "nodes": nodes, "edges": edges,
                                              "trigger": None}), 201)
        active = _ok(http.post("/flows", json={"name": f"Campaign {uuid.uuid4().hex[:6]}", "nodes": nodes,
                                               "edges": edges, "trigger": None}), 201)
        _ok(http.put(f"/flows/{active['id']}", json={"status": "active"}), 200)
        template = {"name": "promo", "language": "en_US",
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}]}]}
        automation = _ok(http.post("/flow-automations", json={
            "flow_id": active["id"], "contacts": [c["id"] for c in contacts], "config": {"template": template}}), 201)
    seeded.ids = {
        "contact_id": [c["id"] for c in contacts],
        "secret_id": [wa_secret["id"], other_secret["id"]],
        "flow_id": [draft["id"], active["id"]],
        "automation_id": [automation["id"]],
        "message_id": [message["message_id"]],
        "user_id": [viewer["id"]],
    }
    return seeded
