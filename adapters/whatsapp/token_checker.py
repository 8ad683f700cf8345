"""Checks a WhatsApp (Graph API) access token for the vault's ``whatsapp_token`` test.

``GET {graph_url}/{version}/me?fields=id,name`` with the token in the ``Authorization`` header only.
The host is the configured Graph URL (never a URL from a request), redirects are not followed, and
neither the token nor the provider's body is logged, echoed or chained into an exception: only the
parsed Graph error code decides the answer.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from application.ports.vault import CredentialCheck, ProviderCredentialChecker

log = structlog.get_logger("pytake.whatsapp.token_check")

INVALID_TOKEN = 190
PERMISSION_CODES = frozenset({10, *range(200, 300)})
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


def _graph_code(response: httpx.Response) -> int | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


class HttpxWhatsAppTokenChecker(ProviderCredentialChecker):
    def __init__(self, client: httpx.AsyncClient, *, base_url: str, api_version: str,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> None:
        self._client = client
        version = api_version.strip("/")
        self._url = f"{base_url.rstrip('/')}/{version if version.startswith('v') else 'v' + version}/me"
        self._timeout = timeout

    async def check_whatsapp_token(self, token: str) -> CredentialCheck:
        try:
            response = await self._client.get(self._url, params={"fields": "id,name"},
                                              headers={"Authorization": f"Bearer {token}"},
                                              timeout=self._timeout, follow_redirects=False)
        except httpx.TimeoutException:
            log.warning("token_check.inconclusive", reason="timeout")
            return CredentialCheck(None, "inconclusive: the provider did not answer in time")
        except httpx.HTTPError as e:  # not chained or echoed: the request carries the token
            log.warning("token_check.inconclusive", reason="network", error_type=type(e).__name__)
            return CredentialCheck(None, "inconclusive: the provider could not be reached")
        if response.status_code == 200:
            return CredentialCheck(True, "token accepted by the WhatsApp provider")
        code = _graph_code(response)
        log.info("token_check.refused", http_status=response.status_code, graph_code=code)
        if code == INVALID_TOKEN:
            return CredentialCheck(False, "token invalid or expired")
        if code in PERMISSION_CODES:
            return CredentialCheck(False, "missing permission: the token lacks a required permission")
        if response.status_code >= 500 or code in {1, 2, 4, 17, 80007, 130429} or code is None:
            return CredentialCheck(None, f"inconclusive: provider unavailable (HTTP {response.status_code})")
        return CredentialCheck(None, f"inconclusive: unexpected provider answer (Graph error {code})")
