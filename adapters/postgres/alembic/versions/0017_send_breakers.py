"""Circuit breakers per sending number: a pause every worker replica sees.

- ``whatsapp_numbers.send_pause_code``: the Graph error that paused sending on the number (131048 spam rate
  limit, 368 temporarily blocked for policy violations, 190 access token invalid); NULL: not paused.
- ``send_paused_until``: when sending resumes by itself; NULL with a code: until the access token is
  changed in the vault (the change clears the pause).
- ``send_pause_reason``, ``send_paused_at``: what Meta said, and when.
- ``whatsapp_media``: files uploaded to Meta for a number (``POST /whatsapp/numbers/{id}/media``): the content waits
  here (and is dropped once uploaded) until a worker uploads it; ``media_id`` is Meta's answer.

Revision ID: 0017_send_breakers
Revises: 0016_conversation_inbox
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0017_send_breakers"
down_revision = "0016_conversation_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE whatsapp_numbers
        ADD COLUMN send_pause_code integer,
        ADD COLUMN send_pause_reason text CHECK (length(send_pause_reason) <= 500),
        ADD COLUMN send_paused_at timestamptz,
        ADD COLUMN send_paused_until timestamptz;
    CREATE TABLE whatsapp_media (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        number_id uuid NOT NULL REFERENCES whatsapp_numbers(id) ON DELETE CASCADE,
        filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 240),
        mime_type text NOT NULL CHECK (length(mime_type) <= 128),
        size_bytes integer NOT NULL CHECK (size_bytes > 0),
        content bytea,
        status text NOT NULL CHECK (status IN ('queued', 'uploaded', 'failed')),
        media_id text,
        error_code integer,
        error text CHECK (length(error) <= 500),
        created_by uuid REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        uploaded_at timestamptz
    );
    ALTER TABLE whatsapp_media ALTER COLUMN content SET STORAGE EXTERNAL;
    CREATE INDEX whatsapp_media_org_created_idx ON whatsapp_media (organization_id, created_at DESC);
    """)
    op.execute("ALTER TABLE whatsapp_media ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON whatsapp_media USING (pytake_tenant_visible(organization_id)) "
               "WITH CHECK (pytake_tenant_visible(organization_id))")
    grant_app_role("whatsapp_media")


def downgrade() -> None:
    run_script("""
    DROP TABLE whatsapp_media;
    ALTER TABLE whatsapp_numbers DROP COLUMN send_paused_until, DROP COLUMN send_paused_at,
        DROP COLUMN send_pause_reason, DROP COLUMN send_pause_code;
    """)
