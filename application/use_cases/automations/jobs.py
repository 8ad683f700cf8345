"""Worker job names of flow automations."""

from __future__ import annotations

DISPATCH_AUTOMATION_JOB = "dispatch_automation"
