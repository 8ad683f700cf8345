"""WhatsApp channel: numbers, conversations, messages and their status history, webhook events, pacers.

Revision ID: 0003_whatsapp
Revises: 0002_vault
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0003_whatsapp"
down_revision = "0002_vault"
branch_labels = None
depends_on = None

TENANT_TABLES = ("whatsapp_numbers", "conversations", "messages", "message_status_events")


def upgrade() -> None:
    run_script("""
    CREATE TABLE whatsapp_numbers (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        phone_number_id text NOT NULL,
        waba_id text,
        phone_number text NOT NULL,
        display_name text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'inactive', 'pending')),
        verified boolean NOT NULL DEFAULT false,
        access_token_secret_id uuid NOT NULL,
        quality_rating text,
        throughput_mps integer NOT NULL DEFAULT 80 CHECK (throughput_mps BETWEEN 1 AND 1000),
        last_error text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT whatsapp_numbers_phone_number_id_key UNIQUE (phone_number_id)
    );
    CREATE INDEX whatsapp_numbers_org_idx ON whatsapp_numbers (organization_id, created_at);
    CREATE TABLE conversations (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        number_id uuid NOT NULL REFERENCES whatsapp_numbers(id) ON DELETE CASCADE,
        contact_id uuid NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        last_inbound_at timestamptz,
        last_message_at timestamptz,
        handoff_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT conversations_number_contact_key UNIQUE (number_id, contact_id)
    );
    CREATE INDEX conversations_contact_idx ON conversations (organization_id, contact_id);
    CREATE TABLE messages (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        number_id uuid NOT NULL REFERENCES whatsapp_numbers(id) ON DELETE CASCADE,
        contact_id uuid REFERENCES contacts(id) ON DELETE SET NULL,
        direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        type text NOT NULL,
        content jsonb NOT NULL DEFAULT '{}',
        status text NOT NULL,
        wamid text,
        source text NOT NULL DEFAULT 'api',
        error_code integer,
        error_title text,
        attempts integer NOT NULL DEFAULT 0,
        send_claimed_at timestamptz,
        occurred_at timestamptz NOT NULL,
        sent_at timestamptz,
        delivered_at timestamptz,
        read_at timestamptz,
        failed_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX messages_wamid_key ON messages (wamid) WHERE wamid IS NOT NULL;
    CREATE INDEX messages_contact_idx ON messages (organization_id, contact_id, occurred_at DESC, id DESC);
    CREATE INDEX messages_unconfirmed_idx ON messages (send_claimed_at)
        WHERE status = 'queued' AND send_claimed_at IS NOT NULL;
    CREATE TABLE message_status_events (
        id bigserial PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        status text NOT NULL,
        occurred_at timestamptz NOT NULL,
        error_code integer,
        error_title text,
        created_at timestamptz NOT NULL,
        CONSTRAINT message_status_events_once UNIQUE (message_id, status)
    );
    CREATE TABLE webhook_events (
        id uuid PRIMARY KEY,
        body_sha256 text NOT NULL,
        body bytea NOT NULL,
        received_at timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'processed', 'dead')),
        processed_at timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        summary jsonb,
        last_error text,
        CONSTRAINT webhook_events_body_key UNIQUE (body_sha256)
    );
    CREATE INDEX webhook_events_pending_idx ON webhook_events (received_at) WHERE status <> 'processed';
    CREATE TABLE send_pacers (
        key text PRIMARY KEY,
        next_slot_at timestamptz NOT NULL
    );
    """)
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (pytake_tenant_visible(organization_id)) "
                   "WITH CHECK (pytake_tenant_visible(organization_id))")
    grant_app_role(*TENANT_TABLES, "webhook_events", "send_pacers")


def downgrade() -> None:
    run_script("""
    DROP TABLE send_pacers;
    DROP TABLE webhook_events;
    DROP TABLE message_status_events;
    DROP TABLE messages;
    DROP TABLE conversations;
    DROP TABLE whatsapp_numbers;
    """)
