"""Errors raised by use cases (on top of the domain's)."""

from __future__ import annotations

from domain.errors import NotFound, PermissionDenied, RuleViolation, Throttled, Unauthenticated


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    default_message = "Invalid email or password."


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    default_message = "The token is invalid or expired."


class TokenRevoked(Unauthenticated):
    code = "token_revoked"
    default_message = "The token has been revoked."


class RefreshTokenReused(Unauthenticated):
    code = "refresh_token_reused"
    default_message = "This refresh token was already used; the session has been revoked."


class UserInactive(PermissionDenied):
    code = "user_inactive"
    default_message = "This user account is inactive."


class OrganizationHeaderForbidden(PermissionDenied):
    code = "organization_header_forbidden"
    default_message = "Only super_admin may act in another organization (X-Organization-ID)."


class InvalidResetToken(RuleViolation):
    code = "invalid_reset_token"
    default_message = "The reset token is invalid, expired or already used."


class LoginThrottled(Throttled):
    code = "too_many_login_attempts"
    default_message = "Too many failed login attempts; try again later."


class UserNotFound(NotFound):
    code = "user_not_found"
    default_message = "User not found."


class OrganizationNotFound(NotFound):
    code = "organization_not_found"
    default_message = "Organization not found."


class PasswordResetThrottled(Throttled):
    code = "too_many_password_resets"
    default_message = "Too many password reset requests; try again later."
