"""The load generators, each run in its own process so the server under test never shares a CPU-bound event
loop with the client; each prints one JSON line of results.

- ``python -m bench.loadgen loadgen '<json config>'``: signed WhatsApp webhooks (``webhook_ingest``);
- ``python -m bench.loadgen httpload '<json config>'``: groups of clients replaying request templates
  (``rest_reads``, ``login_storm``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import ROOT, progress

# --------------------------------------------------------------------------- webhook payloads


def inbound_text_body(phone_number_id: str, wa_id: str, text: str, wamid: str, timestamp: int) -> bytes:
    """One Meta ``messages`` webhook with one inbound text (CLOUD_API_FACTS.md W1), compact JSON."""
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Bench User"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": "text",
                      "text": {"body": text}}]}, "field": "messages"}]}]}
    return json.dumps(payload, separators=(",", ":")).encode()


def status_body(phone_number_id: str, wamid: str, status: str, recipient: str, timestamp: int,
                tracking: str | None = None) -> bytes:
    """One Meta ``messages`` webhook with one status of one of our messages (CLOUD_API_FACTS.md W7-W9)."""
    entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(timestamp), "recipient_id": recipient,
                             "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"}}
    if status == "sent":
        entry["conversation"] = {"id": uuid.uuid4().hex, "origin": {"type": "marketing"}}
    if tracking:
        entry["biz_opaque_callback_data"] = tracking
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "statuses": [entry]}, "field": "messages"}]}]}
    return json.dumps(payload, separators=(",", ":")).encode()


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- the load generator


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def _loadgen(config: dict[str, Any]) -> dict[str, Any]:
    """Signed webhooks, each a new inbound text, from ``concurrency`` keep-alive connections (the same small
    HTTP/1.1 client as ``httpload``, so the load generator is not the bottleneck)."""
    from urllib.parse import urlsplit

    url, secret, pnid = config["url"], config["app_secret"], config["phone_number_id"]
    concurrency, duration, contacts = int(config["concurrency"]), float(config["duration"]), int(config["contacts"])
    target = urlsplit(str(url))
    host, port = target.hostname or "127.0.0.1", target.port or 80
    warmup = _raw_request("GET", urlsplit(str(config["warmup_url"])).path or "/", target.netloc, {}, None)
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = iter(range(10**9))
    connections = [_Http11(host, port, 30.0) for _ in range(concurrency)]
    # warm-up: open the connections and let the server settle (not measured)
    await asyncio.gather(*(c.send(warmup) for c in connections), return_exceptions=True)
    cpu_started = time.process_time()
    started = time.perf_counter()
    stop_at = started + duration

    async def sender(connection: _Http11) -> None:
        while time.perf_counter() < stop_at:
            n = next(counter)
            body = inbound_text_body(pnid, f"55119{n % contacts:08d}", f"message {n}",
                                     f"wamid.bench.{run}.{n}", 1_750_000_000 + n)
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(secret, body)}
            raw = _raw_request("POST", target.path, target.netloc, headers, body)
            sent = time.perf_counter()
            try:
                key = str(await connection.send(raw))
            except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as error:
                key = type(error).__name__
            latencies.append(time.perf_counter() - sent) if key == "200" else None
            statuses[key] = statuses.get(key, 0) + 1

    await asyncio.gather(*(sender(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    acknowledged = statuses.get("200", 0)
    return {"requests": sum(statuses.values()), "acknowledged": acknowledged, "statuses": statuses,
            "elapsed_s": elapsed, "acknowledged_per_s": acknowledged / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "concurrency": concurrency, "loadgen_cpu": (time.process_time() - cpu_started) / elapsed}


class _Http11:
    """One keep-alive HTTP/1.1 connection, just enough for the load generator: send prepared request bytes, read
    the status and skip the body (Content-Length or chunked). httpx's connection pool spends more CPU per request
    than the servers under test once there are dozens of connections, which would make it the bottleneck."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> int:
        try:
            async with asyncio.timeout(self._timeout):
                if self._reader is None or self._writer is None:
                    self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
                self._writer.write(raw)
                status, close = await self._response(self._reader)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"connection":
                close = value == b"close"
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)  # the chunk and its CRLF; the last one is empty (no trailers)
                if size == 0:
                    break
        elif length is not None:
            await reader.readexactly(length)
        elif status not in (204, 304) and status >= 200:
            await reader.read()  # delimited by the end of the connection
            close = True
        return status, close

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _raw_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: pytake-bench"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


async def _httpload(config: dict[str, Any]) -> dict[str, Any]:
    """Groups of concurrent clients (one keep-alive connection each), each group replaying its request templates
    round-robin, for ``duration`` seconds.

    Config: ``base_url`` (http://host:port); ``duration`` (s); ``warmup_s`` (s of the same load before measuring,
    default 0); ``warmup_path`` (one GET per connection first, optional); ``timeout`` (s per request, default 30);
    ``groups``: a list of ``{name, concurrency, headers?, ok_status? (default [200]),
    requests: [{method, path, json?, headers?}]}``.
    Latencies count the answers with an ``ok_status``; everything else (other statuses, transport errors, time-outs)
    counts as an error. Result: ``elapsed_s``, ``loadgen_cpu`` (CPU seconds per second of this process: near 1.0
    means the load generator itself may be the bottleneck) and per group ``requests``, ``ok``, ``errors``,
    ``statuses``, ``ok_per_s``, ``p50_ms``, ``p90_ms``, ``p99_ms``, ``max_ms``, ``concurrency``."""
    import itertools
    from urllib.parse import urlsplit

    target = urlsplit(str(config["base_url"]))
    host, port = target.hostname or "127.0.0.1", target.port or 80
    duration, warmup_s = float(config["duration"]), float(config.get("warmup_s", 0.0))
    timeout = float(config.get("timeout", 30.0))
    groups = config["groups"]
    prepared: list[list[bytes]] = []
    for group in groups:
        requests = []
        for template in group["requests"]:
            headers = {**group.get("headers", {}), **template.get("headers", {})}
            body = None
            if "json" in template:
                body = json.dumps(template["json"], separators=(",", ":")).encode()
                headers["Content-Type"] = "application/json"
            requests.append(_raw_request(template["method"].upper(), template["path"], target.netloc, headers, body))
        prepared.append(requests)
    warmup = _raw_request("GET", config["warmup_path"], target.netloc, {}, None) if config.get("warmup_path") else None
    latencies: list[list[float]] = [[] for _ in groups]
    statuses: list[dict[str, int]] = [{} for _ in groups]
    counters = [itertools.count() for _ in groups]
    oks = [{int(code) for code in group.get("ok_status", [200])} for group in groups]
    workers = [(index, _Http11(host, port, timeout)) for index, group in enumerate(groups)
               for _ in range(int(group["concurrency"]))]

    async def client_loop(index: int, connection: _Http11, stop_at: float, record: bool) -> None:
        requests, counter, ok_status = prepared[index], counters[index], oks[index]
        while time.perf_counter() < stop_at:
            raw = requests[next(counter) % len(requests)]
            sent = time.perf_counter()
            try:
                status = await connection.send(raw)
                key = str(status)
            except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
                status, key = 0, type(error).__name__
            if record:
                if status in ok_status:
                    latencies[index].append(time.perf_counter() - sent)
                statuses[index][key] = statuses[index].get(key, 0) + 1

    async def phase(seconds: float, record: bool) -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(index, connection, started + seconds, record)
                               for index, connection in workers))
        return time.perf_counter() - started

    try:
        if warmup is not None:
            await asyncio.gather(*(connection.send(warmup) for _, connection in workers), return_exceptions=True)
        if warmup_s > 0:
            await phase(warmup_s, record=False)
        cpu_started = time.process_time()
        elapsed = await phase(duration, record=True)
        cpu = (time.process_time() - cpu_started) / elapsed
    finally:
        for _, connection in workers:
            connection.close()
    results: dict[str, Any] = {}
    for index, group in enumerate(groups):
        ok = sum(count for key, count in statuses[index].items() if key.isdigit() and int(key) in oks[index])
        total = sum(statuses[index].values())
        values = latencies[index]
        results[group["name"]] = {
            "requests": total, "ok": ok, "errors": total - ok, "statuses": statuses[index],
            "ok_per_s": ok / elapsed, "p50_ms": percentile(values, 0.50) * 1000,
            "p90_ms": percentile(values, 0.90) * 1000, "p99_ms": percentile(values, 0.99) * 1000,
            "max_ms": (max(values) if values else float("nan")) * 1000, "concurrency": int(group["concurrency"])}
    return {"elapsed_s": elapsed, "loadgen_cpu": cpu, "groups": results}


def _run_mode(mode: str, config: dict[str, Any], log: Path) -> dict[str, Any]:
    log.parent.mkdir(parents=True, exist_ok=True)
    budget = float(config["duration"]) + float(config.get("warmup_s", 0.0)) + 120
    completed = subprocess.run([sys.executable, "-m", "bench.loadgen", mode, json.dumps(config)], cwd=ROOT,
                               capture_output=True, timeout=budget, check=False)
    log.write_bytes(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{completed.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return result


def run_loadgen(config: dict[str, Any], log_dir: Path) -> dict[str, Any]:
    """Run the webhook load generator in its own process; returns its results."""
    return _run_mode("loadgen", config, log_dir / "loadgen.log")


def run_httpload(config: dict[str, Any], log: Path) -> dict[str, Any]:
    """Run the request-template load generator (``_httpload``) in its own process; returns its results and
    warns when the load generator used nearly a whole CPU (then it, not the server, may be the limit)."""
    result = _run_mode("httpload", config, log)
    if result["loadgen_cpu"] > 0.85:
        progress(f"note: the load generator used {result['loadgen_cpu']:.0%} of a CPU; it may be the bottleneck")
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "loadgen":
        print(json.dumps(asyncio.run(_loadgen(json.loads(sys.argv[2])))), flush=True)
    elif len(sys.argv) == 3 and sys.argv[1] == "httpload":
        print(json.dumps(asyncio.run(_httpload(json.loads(sys.argv[2])))), flush=True)
    else:
        sys.exit("usage: python -m bench.loadgen loadgen|httpload '<json config>'")
