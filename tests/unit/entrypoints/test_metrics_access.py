"""Who may scrape the API's /metrics: the METRICS_TOKEN bearer, or without one a loopback client outside
production."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from entrypoints.config import Settings
from entrypoints.http.routers.operations import may_scrape

TOKEN = "m3trics-token-0123456789"


@pytest.mark.parametrize(("env", "token", "host", "sent", "allowed"), [
    ("development", None, "127.0.0.1", None, True),
    ("development", None, "::1", None, True),
    ("development", None, "10.0.0.7", None, False),
    ("development", None, None, None, False),
    ("development", None, "testclient", None, False),
    ("production", None, "127.0.0.1", None, False),  # production scrapes need the token
    ("production", None, "127.0.0.1", TOKEN, False),
    ("production", TOKEN, "10.0.0.7", TOKEN, True),
    ("production", TOKEN, "10.0.0.7", TOKEN + "x", False),
    ("development", TOKEN, "127.0.0.1", None, False),  # with a token set, loopback needs it too
    ("development", TOKEN, "127.0.0.1", TOKEN, True),
])
def test_who_may_scrape(env: str, token: str | None, host: str | None, sent: str | None, allowed: bool) -> None:
    settings = Settings(env=env, metrics_token=SecretStr(token) if token else None)  # type: ignore[arg-type]
    assert may_scrape(settings, client_host=host, bearer=sent) is allowed
