"""Activate a secret (a transition of ``domain.vault``)."""

from __future__ import annotations

from datetime import datetime

from application.use_cases.vault.common import (
    AuditAction,
    _Transition,
)
from domain.vault import Secret, VersionChange


class ActivateSecret(_Transition):
    """Idempotent; from ``rotated`` it finishes the rotation (the previous version is destroyed)."""

    action = AuditAction.ACTIVATE

    def _apply(self, secret: Secret, now: datetime) -> VersionChange:
        return secret.activate(now)
