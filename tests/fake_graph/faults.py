"""Graph API error answers in Meta's JSON shape (CLOUD_API_FACTS.md section 2.1)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

TITLES: dict[int, str] = {
    1: "API Unknown",
    2: "API Service",
    4: "Application request limit reached",
    100: "Invalid parameter",
    190: "Access token has expired",
    368: "Temporarily blocked for policies violations",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131016: "Service unavailable",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131053: "Media upload error",
    131048: "Spam rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    132001: "Template name does not exist in the translation",
    133004: "Server temporarily unavailable",
}

OBJECT_MISSING = (
    "Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation. Please read the Graph API documentation at "
    "https://developers.facebook.com/docs/graph-api"
)


@dataclass(frozen=True, slots=True)
class GraphFault:
    """One error answer. ``json_body=False`` answers plain text (a proxy 5xx with no Graph JSON)."""

    code: int
    http_status: int = 400
    message: str | None = None
    details: str | None = None
    error_subcode: int | None = None
    error_type: str = "OAuthException"
    json_body: bool = True
    retry_after: int | None = None
    """Seconds sent as ``Retry-After``."""
    regain_access_minutes: int | None = None
    """Sent as ``X-Business-Use-Case-Usage``'s ``estimated_time_to_regain_access`` (Graph's rate-limit header)."""

    def headers(self) -> dict[str, str]:
        headers = {"WWW-Authenticate": "OAuth"} if self.code == 190 else {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.regain_access_minutes is not None:
            headers["X-Business-Use-Case-Usage"] = json.dumps({"102290129340398": [{
                "type": "whatsapp", "call_count": 100, "total_cputime": 1, "total_time": 1,
                "estimated_time_to_regain_access": self.regain_access_minutes}]})
        return headers

    def payload(self) -> dict[str, Any]:
        title = TITLES.get(self.code, "Unknown error")
        error: dict[str, Any] = {
            "message": self.message or f"(#{self.code}) {title}",
            "type": self.error_type,
            "code": self.code,
        }
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.error_subcode is not None:
            error["error_subcode"] = self.error_subcode
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
        return {"error": error}


def invalid_token() -> GraphFault:
    return GraphFault(
        190, 401,
        message="Error validating access token: Session has expired or the token is invalid.",
        error_subcode=463,
    )


def object_missing(object_id: str, method: str) -> GraphFault:
    return GraphFault(100, 400, message=OBJECT_MISSING.format(method=method, object_id=object_id),
                      error_subcode=33, error_type="GraphMethodException")


def missing(parameter: str) -> GraphFault:
    return GraphFault(131008, 400, details=f"The parameter {parameter} is required.")


def invalid(details: str) -> GraphFault:
    return GraphFault(131009, 400, details=details)


def bad_param(details: str) -> GraphFault:
    return GraphFault(100, 400, details=details)


def throughput_reached() -> GraphFault:
    return GraphFault(130429, 400, details="Cloud API message throughput has been reached.")
