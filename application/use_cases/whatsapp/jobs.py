"""Names of the worker jobs of the WhatsApp channel and their payloads."""

from __future__ import annotations

SEND_MESSAGE_JOB = "send_message"
PROCESS_WEBHOOK_JOB = "process_webhook"
RECONCILE_SEND_JOB = "reconcile_send"
VERIFY_NUMBER_JOB = "verify_number"
REQUEUE_STALLED_WEBHOOKS_JOB = "requeue_stalled_webhooks"
