"""Message templates: each organization's copy of its WhatsApp Business Accounts' templates.

- ``message_templates``: one row per (organization, WABA, name, language), filled by the template sync (Meta's
  ``GET /{waba_id}/message_templates``) and kept current by the template webhooks; a template Meta stops listing
  becomes ``DELETED``. Sends and automations are checked against it before anything is queued. ``event_at``: Meta's
  time of the last template webhook applied (an older one, or one older than the last sync, changes nothing).

Revision ID: 0012_message_templates
Revises: 0010_contact_imports
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0012_message_templates"
down_revision = "0010_contact_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE message_templates (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        waba_id text NOT NULL CHECK (length(waba_id) <= 64),
        meta_template_id text NOT NULL CHECK (length(meta_template_id) <= 64),
        name text NOT NULL CHECK (length(name) <= 512),
        language text NOT NULL CHECK (length(language) <= 15),
        category text,
        status text NOT NULL,
        quality_score text,
        components jsonb NOT NULL DEFAULT '[]',
        parameter_format text,
        rejected_reason text,
        event_at timestamptz,
        synced_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT message_templates_org_waba_name_language_key UNIQUE (organization_id, waba_id, name, language)
    );
    CREATE INDEX message_templates_meta_id_idx ON message_templates (waba_id, meta_template_id);
    ALTER TABLE message_templates ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON message_templates USING (pytake_tenant_visible(organization_id))
        WITH CHECK (pytake_tenant_visible(organization_id));
    """)
    grant_app_role("message_templates")


def downgrade() -> None:
    op.execute("DROP TABLE message_templates")
