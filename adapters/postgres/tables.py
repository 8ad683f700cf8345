"""SQLAlchemy Core tables used to build queries (the schema itself is owned by Alembic migrations)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

organizations = Table(
    "organizations", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

auth_sessions = Table(
    "auth_sessions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_reason", Text),
    Column("strict_rotation", Boolean, nullable=False, server_default=text("false")),
)

refresh_tokens = Table(
    "refresh_tokens", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("session_id", UUID(as_uuid=True), nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("parent_id", UUID(as_uuid=True)),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

revoked_access_tokens = Table(
    "revoked_access_tokens", metadata,
    Column("jti", Text, primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

auth_throttle = Table(
    "auth_throttle", metadata,
    Column("key", Text, primary_key=True),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False),
    Column("blocked_until", DateTime(timezone=True)),
)

password_reset_tokens = Table(
    "password_reset_tokens", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

contacts = Table(
    "contacts", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("whatsapp_id", Text),  # null for a username user known only by their BSUID
    Column("bsuid", Text),
    Column("name", Text),
    Column("email", Text),
    Column("tags", ARRAY(Text), nullable=False),
    Column("attributes", JSONB, nullable=False),
    Column("opted_out", Boolean, nullable=False),
    Column("opted_out_at", DateTime(timezone=True)),
    Column("search_text", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

whatsapp_numbers = Table(
    "whatsapp_numbers", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("phone_number_id", Text, nullable=False),
    Column("waba_id", Text),
    Column("phone_number", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("access_token_secret_id", UUID(as_uuid=True), nullable=False),
    Column("quality_rating", Text),
    Column("throughput_mps", Integer, nullable=False),
    Column("last_error", Text),
    Column("account_status", Text),
    Column("account_status_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("send_pause_code", Integer),
    Column("send_pause_reason", Text),
    Column("send_paused_at", DateTime(timezone=True)),
    Column("send_paused_until", DateTime(timezone=True)),
)

conversations = Table(
    "conversations", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("number_id", UUID(as_uuid=True), nullable=False),
    Column("contact_id", UUID(as_uuid=True), nullable=False),
    Column("last_inbound_at", DateTime(timezone=True)),
    Column("last_message_at", DateTime(timezone=True)),
    Column("handoff_at", DateTime(timezone=True)),
    Column("state", Text, nullable=False),
    Column("assignee_id", UUID(as_uuid=True)),
    Column("unread_count", Integer, nullable=False),
    Column("last_read_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

messages = Table(
    "messages", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("number_id", UUID(as_uuid=True), nullable=False),
    Column("contact_id", UUID(as_uuid=True)),
    Column("direction", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("wamid", Text),
    Column("source", Text, nullable=False),
    Column("error_code", Integer),
    Column("error_title", Text),
    Column("attempts", Integer, nullable=False),
    Column("send_claimed_at", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("seq", BigInteger),  # generated: the order messages were queued in
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("read_at", DateTime(timezone=True)),
    Column("failed_at", DateTime(timezone=True)),
    Column("deleted_at", DateTime(timezone=True)),  # the contact deleted it for everyone (a ``revoke``)
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

message_status_events = Table(
    "message_status_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("message_id", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("error_code", Integer),
    Column("error_title", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

webhook_events = Table(
    "webhook_events", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("body_sha256", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False),
    Column("summary", JSONB),
    Column("last_error", Text),
    Column("seq", BigInteger),
    Column("sender_keys", ARRAY(Text), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
)

flow_automations = Table(
    "flow_automations", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("flow_id", UUID(as_uuid=True), nullable=False),
    Column("number_id", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("config", JSONB, nullable=False),
    Column("rate_per_second", Float, nullable=False),
    Column("schedule_at", DateTime(timezone=True)),
    Column("total_contacts", Integer, nullable=False),
    Column("paused_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("dispatch_finished_at", DateTime(timezone=True)),
)

automation_recipients = Table(
    "automation_recipients", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("automation_id", UUID(as_uuid=True), nullable=False),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("contact_id", UUID(as_uuid=True), nullable=False),
    Column("whatsapp_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("variables", JSONB, nullable=False),
    Column("message_id", UUID(as_uuid=True)),
    Column("execution_id", UUID(as_uuid=True)),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("error_code", Integer),
    Column("error_title", Text),
    Column("skip_reason", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

flows = Table(
    "flows", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("status", Text, nullable=False),
    Column("nodes", JSONB, nullable=False),
    Column("edges", JSONB, nullable=False),
    Column("trigger", JSONB(none_as_null=True)),
    Column("published_version", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

flow_versions = Table(
    "flow_versions", metadata,
    Column("flow_id", UUID(as_uuid=True), nullable=False),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("nodes", JSONB, nullable=False),
    Column("edges", JSONB, nullable=False),
    Column("trigger", JSONB(none_as_null=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

flow_executions = Table(
    "flow_executions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("flow_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("contact_id", UUID(as_uuid=True), nullable=False),
    Column("number_id", UUID(as_uuid=True), nullable=False),
    Column("status", Text, nullable=False),
    Column("state", JSONB, nullable=False),
    Column("current_node_id", Text),
    Column("fail_reason", Text),
    Column("trigger", Text, nullable=False),
    Column("automation_id", UUID(as_uuid=True)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

contact_imports = Table(
    "contact_imports", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("created_by", UUID(as_uuid=True)),
    Column("filename", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("mode", Text, nullable=False),
    Column("delimiter", Text, nullable=False),
    Column("mapping", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("rows_total", Integer),
    Column("rows_processed", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("errors", JSONB, nullable=False),
    Column("failure_code", Text),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
)

contact_import_files = Table(
    "contact_import_files", metadata,
    Column("import_id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

message_templates = Table(
    "message_templates", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("waba_id", Text, nullable=False),
    Column("meta_template_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("category", Text),
    Column("status", Text, nullable=False),
    Column("quality_score", Text),
    Column("components", JSONB, nullable=False),
    Column("parameter_format", Text),
    Column("rejected_reason", Text),
    Column("event_at", DateTime(timezone=True)),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


whatsapp_media = Table(
    "whatsapp_media", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("number_id", UUID(as_uuid=True), nullable=False),
    Column("filename", Text, nullable=False),
    Column("mime_type", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("content", LargeBinary),
    Column("status", Text, nullable=False),
    Column("media_id", Text),
    Column("error_code", Integer),
    Column("error", Text),
    Column("created_by", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("uploaded_at", DateTime(timezone=True)),
)


events = Table(
    "events", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("type", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

event_purges = Table(
    "event_purges", metadata,
    Column("organization_id", UUID(as_uuid=True), primary_key=True),
    Column("purged_through", BigInteger, nullable=False),
)

event_tickets = Table(
    "event_tickets", metadata,
    Column("token_hash", Text, primary_key=True),
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
