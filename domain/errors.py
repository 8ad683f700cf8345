"""Typed errors of the core.

Every error the domain or application can raise derives from one of the categories below.
Each entrypoint translates the *category* once (HTTP status, worker ack/retry/dead-letter);
each concrete error carries a stable snake_case ``code`` the frontend can switch on.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every expected error. ``code`` is stable; ``message`` is for humans."""

    code: ClassVar[str] = "domain_error"
    default_message: ClassVar[str] = "The request breaks a business rule."
    field: str | None = None  # the input field a validation error is about, when known

    def __init__(self, message: str | None = None, *, details: list[dict[str, Any]] | None = None,
                 field: str | None = None):
        self.message = message or self.default_message
        self.details = details
        if field is not None:
            self.field = field
        super().__init__(self.message)


class RuleViolation(DomainError):
    """A well-formed request breaks a domain rule (HTTP 400)."""

    code = "rule_violation"


class InvalidValue(DomainError):
    """A value fails validation (HTTP 422 when it comes from a request)."""

    code = "invalid_value"
    default_message = "A value is not valid."


class NotFound(DomainError):
    """Unknown id, or an id that belongs to another organization (HTTP 404)."""

    code = "not_found"
    default_message = "Resource not found."


class Conflict(DomainError):
    """Duplicate or illegal state transition (HTTP 409)."""

    code = "conflict"
    default_message = "The request conflicts with the current state."


class Unauthenticated(DomainError):
    """Missing, invalid, expired or revoked credentials (HTTP 401)."""

    code = "not_authenticated"
    default_message = "Authentication required."


class PermissionDenied(DomainError):
    """The caller's role may not do this (HTTP 403)."""

    code = "permission_denied"
    default_message = "You do not have permission to perform this action."


class Throttled(DomainError):
    """Too many attempts (HTTP 429 with Retry-After)."""

    code = "too_many_requests"
    default_message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class TooLarge(DomainError):
    """The request, or a file in it, is larger than allowed (HTTP 413)."""

    code = "payload_too_large"
    default_message = "The request is too large."


class Unavailable(DomainError):
    """A dependency (database, provider) is unavailable; retrying later may work (HTTP 503)."""

    code = "service_unavailable"
    default_message = "A dependency is temporarily unavailable."
