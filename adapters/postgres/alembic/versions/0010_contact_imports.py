"""Contact imports (the uploaded CSV and the import's progress) and a tag index for audiences and exports.

- ``contact_imports``: one row per upload; ``rows_processed`` is the cursor a resumed job continues from,
  committed with each batch together with the counts and the first 100 row errors.
- ``contact_import_files``: the uploaded file (bytea), kept until the import completes, so a worker restart or a
  retry finds it again.
- ``contacts_tags_idx``: GIN over the lower-cased tags (``pytake_lower_tags``), for ``{"tag": ...}`` audiences and
  ``GET /contacts/export?tag=`` (tags match case-insensitively).

Revision ID: 0010_contact_imports
Revises: 0009_inbox_outbox
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0010_contact_imports"
down_revision = "0009_inbox_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE contact_imports (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        created_by uuid REFERENCES users(id) ON DELETE SET NULL,
        filename text NOT NULL CHECK (length(filename) <= 255),
        size_bytes integer NOT NULL CHECK (size_bytes >= 0),
        mode text NOT NULL CHECK (mode IN ('create_only', 'upsert')),
        delimiter text NOT NULL CHECK (delimiter IN (',', ';')),
        mapping jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
        rows_total integer,
        rows_processed integer NOT NULL DEFAULT 0,
        created integer NOT NULL DEFAULT 0,
        updated integer NOT NULL DEFAULT 0,
        unchanged integer NOT NULL DEFAULT 0,
        duplicates integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        errors jsonb NOT NULL DEFAULT '[]',
        failure_code text,
        failure_reason text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz
    );
    CREATE INDEX contact_imports_org_created_idx ON contact_imports (organization_id, created_at DESC, id DESC);
    CREATE TABLE contact_import_files (
        import_id uuid PRIMARY KEY REFERENCES contact_imports(id) ON DELETE CASCADE,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        content bytea NOT NULL
    );
    ALTER TABLE contact_import_files ALTER COLUMN content SET STORAGE EXTERNAL;
    CREATE FUNCTION pytake_lower_tags(tags text[]) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
        $$ SELECT coalesce(array_agg(lower(t)), '{}') FROM unnest(tags) AS t $$;
    CREATE INDEX contacts_tags_idx ON contacts USING gin (pytake_lower_tags(tags));
    """)
    for table in ("contact_imports", "contact_import_files"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (pytake_tenant_visible(organization_id)) "
                   "WITH CHECK (pytake_tenant_visible(organization_id))")
    grant_app_role("contact_imports", "contact_import_files")


def downgrade() -> None:
    run_script("""
    DROP INDEX contacts_tags_idx;
    DROP FUNCTION pytake_lower_tags(text[]);
    DROP TABLE contact_import_files;
    DROP TABLE contact_imports;
    """)
