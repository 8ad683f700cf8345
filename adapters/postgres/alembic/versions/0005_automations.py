"""Flow automations and their frozen audience (one row per recipient).

Revision ID: 0005_automations
Revises: 0004_flows
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0005_automations"
down_revision = "0004_flows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE flow_automations (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        flow_id uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
        number_id uuid NOT NULL REFERENCES whatsapp_numbers(id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled')),
        config jsonb NOT NULL DEFAULT '{}',
        rate_per_second double precision NOT NULL CHECK (rate_per_second > 0),
        schedule_at timestamptz,
        total_contacts integer NOT NULL DEFAULT 0,
        paused_reason text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz
    );
    CREATE INDEX flow_automations_org_idx ON flow_automations (organization_id, created_at DESC, id DESC);
    CREATE INDEX flow_automations_flow_idx ON flow_automations (flow_id, status);
    CREATE TABLE automation_recipients (
        id uuid PRIMARY KEY,
        automation_id uuid NOT NULL REFERENCES flow_automations(id) ON DELETE CASCADE,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        contact_id uuid NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        whatsapp_id text NOT NULL,
        seq integer NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'sent', 'delivered', 'read', 'replied', 'completed',
                                             'failed', 'skipped')),
        variables jsonb NOT NULL DEFAULT '{}',
        message_id uuid,
        execution_id uuid,
        dispatched_at timestamptz,
        error_code integer,
        error_title text,
        skip_reason text,
        updated_at timestamptz NOT NULL,
        CONSTRAINT automation_recipients_once UNIQUE (automation_id, contact_id)
    );
    CREATE INDEX automation_recipients_todo_idx ON automation_recipients (automation_id, seq)
        WHERE state = 'pending' AND dispatched_at IS NULL;
    CREATE INDEX automation_recipients_state_idx ON automation_recipients (automation_id, state);
    CREATE INDEX automation_recipients_message_idx ON automation_recipients (message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX automation_recipients_contact_idx ON automation_recipients (organization_id, contact_id);
    """)
    for table in ("flow_automations", "automation_recipients"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (pytake_tenant_visible(organization_id)) "
                   "WITH CHECK (pytake_tenant_visible(organization_id))")
    grant_app_role("flow_automations", "automation_recipients")


def downgrade() -> None:
    run_script("DROP TABLE automation_recipients; DROP TABLE flow_automations;")
