"""Deactivate a secret (a transition of ``domain.vault``)."""

from __future__ import annotations

from datetime import datetime

from application.use_cases.vault.common import (
    AuditAction,
    _Transition,
)
from domain.vault import Secret, VersionChange


class DeactivateSecret(_Transition):
    """Idempotent; an inactive secret is not served (409 ``secret_inactive``)."""

    action = AuditAction.DEACTIVATE

    def _apply(self, secret: Secret, now: datetime) -> VersionChange:
        return secret.deactivate(now)
