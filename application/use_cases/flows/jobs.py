"""Worker job names of flows and their payloads."""

from __future__ import annotations

FLOW_TIMER_JOB = "flow_timer"  # {organization_id, execution_id, timer_id}
FLOW_HTTP_JOB = "flow_http"  # {organization_id, execution_id, **http_payload.encode_call(command)}
EXPIRE_FLOW_EXECUTIONS_JOB = "expire_flow_executions"  # periodic sweep, no payload
