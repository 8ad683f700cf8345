"""Names of the worker jobs of the WhatsApp channel (webhooks and sends are not jobs: the inbox and the
outbox are their queues)."""

from __future__ import annotations

VERIFY_NUMBER_JOB = "verify_number"
RECONCILE_SENDS_JOB = "reconcile_sends"  # the minute sweep of sends whose outcome never became known
