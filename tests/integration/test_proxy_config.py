"""deploy/haproxy.cfg, run by a real haproxy: replicas found by DNS (as Docker's DNS answers for `api`), round
robin over them, a stopped replica costs no request, a replica added later (`--scale api=3`) gets traffic, and
the client's own X-Forwarded-For is replaced by its address. Everything listens on loopback addresses; the
configuration is the committed one with only its addresses and ports rewritten."""

from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")]


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dns:
    """A DNS server answering A queries for `api` with the current replica addresses (like Docker's)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                query, client = self.socket.recvfrom(4096)
            except OSError:
                return
            self.socket.sendto(self._answer(query), client)

    def _answer(self, query: bytes) -> bytes:
        end = 12
        while query[end]:
            end += query[end] + 1
        question = query[12:end + 5]
        qtype = struct.unpack("!H", query[end + 1:end + 3])[0]
        addresses = list(self.addresses) if qtype == 1 else []
        header = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], 0x8180, 1, len(addresses), 0, 0)
        answers = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(a) for a in addresses)
        return header + question + answers

    def close(self) -> None:
        self.socket.close()


class Replica:
    """An API replica stand-in: GET /health, and GET /whoami answering its name and the X-Forwarded-For it got."""

    def __init__(self, name: str, address: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = json.dumps({"replica": name, "xff": self.headers.get("X-Forwarded-For")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer((address, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def proxy(tmp_path: Path) -> Iterator[tuple[str, Dns, int]]:
    api_port, proxy_port = _free_port(), _free_port()
    dns = Dns(["127.0.0.2", "127.0.0.3"])
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    rewritten = re.sub(r"parse-resolv-conf.*", f"nameserver dns 127.0.0.1:{dns.port}", config)
    rewritten = rewritten.replace("bind :8080", f"bind 127.0.0.1:{proxy_port}")
    rewritten = rewritten.replace("api:8000", f"api:{api_port}")
    assert rewritten.count(str(dns.port)) == 1 and rewritten.count(f"api:{api_port}") == 1
    (tmp_path / "haproxy.cfg").write_text(rewritten)
    process = subprocess.Popen(["haproxy", "-db", "-f", str(tmp_path / "haproxy.cfg")], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        yield f"http://127.0.0.1:{proxy_port}", dns, api_port
    finally:
        process.terminate()
        process.communicate(timeout=10)
        dns.close()


def _replicas_answering(base: str, requests: int = 12, **headers: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(requests):
        answer = httpx.get(f"{base}/whoami", headers=headers, timeout=5)
        assert answer.status_code == 200, answer.text
        seen[answer.json()["replica"]] += 1
    return seen


def _until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the proxy did not get there in time"
        time.sleep(0.5)


def test_proxy_balances_replicas_found_by_dns_and_follows_them(proxy: tuple[str, Dns, int]) -> None:
    base, dns, api_port = proxy
    replicas = {name: Replica(name, address, api_port)
                for name, address in (("one", "127.0.0.2"), ("two", "127.0.0.3"))}
    try:
        def proxy_up() -> bool:
            try:  # haproxy may not listen yet
                return httpx.get(f"{base}/proxy-health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _until(proxy_up)

        def both_up() -> bool:
            try:
                return set(_replicas_answering(base, 6)) == {"one", "two"}
            except (httpx.HTTPError, AssertionError):
                return False

        _until(both_up)
        assert _replicas_answering(base, 12) == Counter(one=6, two=6)  # round robin

        answer = httpx.get(f"{base}/whoami", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5).json()
        assert answer["xff"] == "127.0.0.1"  # the client's own header is replaced, never trusted

        replicas.pop("two").stop()  # a replica goes away: retried on the other, no request fails
        assert _replicas_answering(base, 10) == Counter(one=10)

        replicas["three"] = Replica("three", "127.0.0.4", api_port)  # `--scale api=3`: DNS answers a new address
        dns.addresses = ["127.0.0.2", "127.0.0.4"]
        _until(lambda: "three" in _replicas_answering(base, 4))
    finally:
        for replica in replicas.values():
            replica.stop()


def test_the_committed_configuration_is_what_the_test_rewrites() -> None:
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert re.search(r"^\s*parse-resolv-conf\b", config, re.MULTILINE)  # the container's DNS (Docker's, Podman's)
    assert re.search(r"^\s*bind :8080$", config, re.MULTILINE)
