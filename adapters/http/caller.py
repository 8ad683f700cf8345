"""The flows' ``http_request`` node on httpx, guarded against SSRF.

- only http/https; the host is resolved once and every address it resolves to must be public
  (no private, loopback, link-local, multicast, reserved or unspecified address) unless the host is
  listed in ``allowed_private_hosts``. An IPv6 address that carries an IPv4 address (IPv4-mapped and
  -translated, IPv4-compatible, NAT64 ``64:ff9b::/96``, 6to4, Teredo) is public only when the IPv4
  address is too; the local-use NAT64 prefix ``64:ff9b:1::/48`` never is. With ``allowed_hosts`` set,
  only those hosts (``.example.com`` allows its subdomains) may be called at all;
- the request is sent to the vetted address itself (Host header and TLS SNI keep the name), so a DNS
  answer that changes between the check and the connection (rebinding) cannot redirect it;
- redirects are never followed (a 3xx is a failed call for the flow); a total timeout (at most 30 s);
  the response body is read up to ``max_response_bytes`` and refused beyond.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from application.ports.flows import HttpCaller, HttpCallError, HttpResponseData

MAX_TIMEOUT_SECONDS = 30.0
MAX_RESPONSE_BYTES = 1024 * 1024
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _hosts(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lower().strip("[]") for v in values if v.strip())


_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: the operator's own translator
_LAST_32_BITS = (  # prefixes whose last 32 bits are the IPv4 address
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64 well-known prefix (RFC 6052)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [address.sixtofour] if address.sixtofour is not None else []
    if address.teredo is not None:
        embedded += list(address.teredo)  # (server, client)
    if any(address in network for network in _LAST_32_BITS):
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in _NAT64_LOCAL or not all(is_public(v4) for v4 in _embedded_ipv4(address)):
            return False
    return address.is_global and not address.is_multicast


class HttpxFlowHttpCaller(HttpCaller):
    def __init__(self, client: httpx.AsyncClient, *, allowed_hosts: Iterable[str] = (),
                 allowed_private_hosts: Iterable[str] = (), max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._client = client
        self._allowed = _hosts(allowed_hosts)
        self._private_ok = _hosts(allowed_private_hosts)
        self._max_bytes = max_response_bytes

    def _host_allowed(self, host: str) -> bool:
        if not self._allowed:
            return True
        return any(host == a or (a.startswith(".") and host.endswith(a)) for a in self._allowed)

    async def _resolve(self, host: str, port: int) -> IpAddress:
        try:
            return ipaddress.ip_address(host)
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except UnicodeError as e:  # not a valid host name (empty or too long label)
            raise HttpCallError("blocked", "the URL's host name is not valid") from e
        except OSError as e:
            raise HttpCallError("failed", f"could not resolve host {host!r}") from e
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise HttpCallError("failed", f"could not resolve host {host!r}")
        if host not in self._private_ok and not all(is_public(a) for a in addresses):
            raise HttpCallError("blocked", f"host {host!r} resolves to a non-public address")
        return addresses[0]

    async def call(self, method: str, url: str, headers: Mapping[str, str], body: object | None,
                   timeout_seconds: float) -> HttpResponseData:
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError as e:  # e.g. an unclosed IPv6 bracket
            raise HttpCallError("blocked", "the URL is not valid") from e
        if parts.scheme not in ("http", "https") or not host:
            raise HttpCallError("blocked", "only absolute http:// and https:// URLs may be called")
        if not self._host_allowed(host):
            raise HttpCallError("blocked", f"host {host!r} is not in FLOW_HTTP_ALLOWED_HOSTS")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as e:
            raise HttpCallError("blocked", "the URL has an invalid port") from e
        timeout = max(0.1, min(float(timeout_seconds), MAX_TIMEOUT_SECONDS))
        try:
            async with asyncio.timeout(timeout):
                address = await self._resolve(host, port)
                if host not in self._private_ok and not is_public(address):
                    raise HttpCallError("blocked", f"address {address} is not public")
                return await self._send(method, parts, host, address, port, headers, body, timeout)
        except TimeoutError as e:
            raise HttpCallError("timeout", f"no response within {timeout:g} s") from e

    async def _send(self, method: str, parts: Any, host: str, address: IpAddress, port: int,
                    headers: Mapping[str, str], body: object | None, timeout: float) -> HttpResponseData:
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = literal if parts.port is None else f"{literal}:{port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        kwargs: dict[str, Any] = {}
        if isinstance(body, str):
            kwargs["content"] = body.encode()
        elif body is not None:
            kwargs["json"] = body
        try:
            authority = host.encode("idna").decode("ascii")
            authority = f"[{authority}]" if ":" in authority else authority
            # values go as UTF-8 (a contact's "José" in a header); a name must be ASCII (a token)
            sent = [(k.encode("ascii"), v.encode()) for k, v in headers.items()
                    if k.lower() not in ("host", "content-length")]
            sent.append((b"Host", (authority if parts.port is None else f"{authority}:{port}").encode()))
            extensions = {"sni_hostname": authority} if parts.scheme == "https" else {}
            request = self._client.build_request(method.upper(), target, headers=sent, timeout=timeout,
                                                 extensions=extensions, **kwargs)
        except (ValueError, TypeError) as e:  # a header name that is not ASCII, a body that is not JSON
            raise HttpCallError("blocked", f"the request could not be built ({type(e).__name__})") from e
        try:
            response = await self._client.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException as e:
            raise HttpCallError("timeout", f"no response within {timeout:g} s") from e
        except httpx.HTTPError as e:
            raise HttpCallError("failed", f"request failed: {type(e).__name__}") from e
        try:
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > self._max_bytes:
                    raise HttpCallError("too_large", f"the response is larger than {self._max_bytes} bytes")
        except httpx.TimeoutException as e:
            raise HttpCallError("timeout", f"no response within {timeout:g} s") from e
        except httpx.HTTPError as e:
            raise HttpCallError("failed", f"reading the response failed: {type(e).__name__}") from e
        finally:
            await response.aclose()
        return HttpResponseData(status_code=response.status_code, body=_decode(bytes(data), response))


def _decode(data: bytes, response: httpx.Response) -> object:
    text = data.decode(response.encoding or "utf-8", errors="replace")
    if "json" in response.headers.get("content-type", "").lower():
        try:
            parsed: object = json.loads(text)
        except ValueError:
            return text
        return parsed
    return text
