"""Flows, their published versions, and flow executions (one running per contact and number).

Revision ID: 0004_flows
Revises: 0003_whatsapp
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0004_flows"
down_revision = "0003_whatsapp"
branch_labels = None
depends_on = None

TENANT_TABLES = ("flows", "flow_versions", "flow_executions")


def upgrade() -> None:
    run_script("""
    CREATE TABLE flows (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
        description text,
        status text NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
        nodes jsonb NOT NULL DEFAULT '[]',
        edges jsonb NOT NULL DEFAULT '[]',
        trigger jsonb,
        published_version integer,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    );
    CREATE INDEX flows_org_idx ON flows (organization_id, created_at DESC, id DESC);
    CREATE INDEX flows_triggers_idx ON flows (organization_id) WHERE status = 'active' AND trigger IS NOT NULL;
    CREATE TABLE flow_versions (
        flow_id uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        nodes jsonb NOT NULL,
        edges jsonb NOT NULL,
        trigger jsonb,
        created_at timestamptz NOT NULL,
        CONSTRAINT flow_versions_flow_version_key UNIQUE (flow_id, version)
    );
    CREATE TABLE flow_executions (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        flow_id uuid NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
        version integer NOT NULL,
        contact_id uuid NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        number_id uuid NOT NULL REFERENCES whatsapp_numbers(id) ON DELETE CASCADE,
        status text NOT NULL CHECK (status IN ('running', 'waiting', 'completed', 'failed', 'handed_off',
                                               'expired')),
        state jsonb NOT NULL DEFAULT '{}',
        current_node_id text,
        fail_reason text,
        trigger text NOT NULL,
        automation_id uuid,
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        finished_at timestamptz,
        expires_at timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX flow_executions_one_running ON flow_executions (number_id, contact_id)
        WHERE status IN ('running', 'waiting');
    CREATE INDEX flow_executions_flow_status_idx ON flow_executions (flow_id, status);
    CREATE INDEX flow_executions_flow_started_idx ON flow_executions (flow_id, started_at DESC, id DESC);
    CREATE INDEX flow_executions_expiry_idx ON flow_executions (expires_at)
        WHERE status IN ('running', 'waiting');
    CREATE INDEX flow_executions_automation_idx ON flow_executions (automation_id) WHERE automation_id IS NOT NULL;
    """)
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (pytake_tenant_visible(organization_id)) "
                   "WITH CHECK (pytake_tenant_visible(organization_id))")
    grant_app_role(*TENANT_TABLES)


def downgrade() -> None:
    run_script("""
    DROP TABLE flow_executions;
    DROP TABLE flow_versions;
    DROP TABLE flows;
    """)
