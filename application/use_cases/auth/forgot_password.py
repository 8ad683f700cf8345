"""Forgot password: the same answer whether or not the email exists (429 past the limits per email and per client
address, counted alike for unknown emails); a single-use token is mailed through the job queue."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

from application.errors import PasswordResetThrottled
from application.jobs import SendEmail, enqueue
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import AuthPolicy, hash_token, new_opaque_token

FORGOT_PASSWORD_MESSAGE = "If an account exists for that email, a password reset link has been sent."


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgotPasswordCommand:
    email: str
    client_ip: str | None = None


class RequestPasswordReset:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, policy: AuthPolicy) -> None:
        self._uow, self._clock, self._policy = uow, clock, policy

    async def execute(self, cmd: ForgotPasswordCommand) -> str:
        email = cmd.email.strip().lower()
        now = self._clock.now()
        p = self._policy
        async with self._uow() as uow:  # known and unknown emails are counted alike: a 429 reveals nothing
            wait = await uow.login_throttle.count_hit(f"reset:email:{email}", now,
                                                      limit=p.reset_requests_per_email_per_hour, window_seconds=3600)
            if cmd.client_ip:
                wait = max(wait, await uow.login_throttle.count_hit(
                    f"reset:ip:{cmd.client_ip}", now, limit=p.reset_requests_per_ip_per_hour, window_seconds=3600))
            if wait > 0:
                await uow.commit()
                raise PasswordResetThrottled(retry_after_seconds=wait)
            user = await uow.users.get_by_email_any_org(email)
            if user is not None and user.is_active:
                token = new_opaque_token()
                await uow.reset_tokens.add(token_id=uuid4(), user_id=user.id, token_hash=hash_token(token),
                                           now=now, expires_at=now + self._policy.reset_ttl)
                link = f"{self._policy.frontend_url.rstrip('/')}/reset-password#token={token}"
                minutes = int(self._policy.reset_ttl.total_seconds() // 60)
                await enqueue(uow, SendEmail(
                    to=user.email, subject="Reset your PyTake password",
                    body=(f"Hello {user.name},\n\nUse this link within {minutes} minutes to choose a new "
                          f"password:\n{link}\n\nIf you did not ask for this, ignore this message.\n")))
            await uow.commit()
        return FORGOT_PASSWORD_MESSAGE
