"""Foundation: organizations, users, sessions, throttling, reset tokens, contacts, RLS, job queue.

Revision ID: 0001_foundation
Revises:
"""

from alembic import op
from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

from adapters.postgres.migration_sql import run_script

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

APP_ROLE = "pytake_app"
TENANT_TABLES = ("users", "auth_sessions", "contacts")


def enable_rls(table: str, column: str = "organization_id") -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (pytake_tenant_visible({column})) "
               f"WITH CHECK (pytake_tenant_visible({column}))")


def upgrade() -> None:
    op.execute(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} NOLOGIN;
        END IF;
    END $$""")
    op.execute(f"""DO $$ BEGIN
        IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
            EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
        END IF;
    END $$""")
    op.execute("""CREATE FUNCTION pytake_tenant_visible(org uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT coalesce(current_setting('pytake.scope', true), '') = 'system'
            OR org = nullif(current_setting('pytake.org_id', true), '')::uuid $$""")
    run_script("""
    CREATE TABLE organizations (
        id uuid PRIMARY KEY,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    );
    CREATE TABLE users (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        email text NOT NULL,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
        role text NOT NULL CHECK (role IN ('super_admin', 'org_admin', 'agent', 'viewer')),
        is_active boolean NOT NULL DEFAULT true,
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    );
    CREATE UNIQUE INDEX users_email_key ON users (lower(email));
    CREATE INDEX users_org_created_idx ON users (organization_id, created_at DESC, id DESC);
    CREATE TABLE auth_sessions (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        revoked_reason text
    );
    CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id) WHERE revoked_at IS NULL;
    CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
        token_hash text NOT NULL UNIQUE,
        parent_id uuid,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
    );
    CREATE TABLE revoked_access_tokens (
        jti text PRIMARY KEY,
        expires_at timestamptz NOT NULL
    );
    CREATE TABLE auth_throttle (
        key text PRIMARY KEY,
        window_start timestamptz NOT NULL,
        count integer NOT NULL,
        blocked_until timestamptz
    );
    CREATE TABLE password_reset_tokens (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        token_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz
    );
    CREATE TABLE contacts (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        whatsapp_id text NOT NULL CHECK (whatsapp_id ~ '^[0-9]{8,15}$'),
        name text CHECK (length(name) <= 255),
        email text CHECK (length(email) <= 254),
        tags text[] NOT NULL DEFAULT '{}',
        attributes jsonb NOT NULL DEFAULT '{}',
        opted_out boolean NOT NULL DEFAULT false,
        opted_out_at timestamptz,
        search_text text GENERATED ALWAYS AS
            (lower(coalesce(name, '') || chr(1) || coalesce(email, '') || chr(1) || whatsapp_id)) STORED,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT contacts_org_whatsapp_id_key UNIQUE (organization_id, whatsapp_id)
    );
    CREATE INDEX contacts_org_created_idx ON contacts (organization_id, created_at DESC, id DESC);
    """)
    # Substring search: a trigram index where the server ships pg_trgm (any packaged PostgreSQL);
    # the embedded development server has no contrib modules and scans instead.
    op.execute("""DO $$ BEGIN
        IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (search_text gin_trgm_ops);
        END IF;
    END $$""")
    op.execute("ALTER TABLE organizations ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY tenant_isolation ON organizations USING (pytake_tenant_visible(id)) "
               "WITH CHECK (pytake_tenant_visible(id))")
    for table in TENANT_TABLES:
        enable_rls(table)
    run_script(QueryBuilderEnvironment().build_install_query(create_schema=False))
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}")


def downgrade() -> None:
    run_script(QueryBuilderEnvironment().build_uninstall_query())
    run_script("""
    DROP TABLE contacts;
    DROP TABLE password_reset_tokens;
    DROP TABLE auth_throttle;
    DROP TABLE revoked_access_tokens;
    DROP TABLE refresh_tokens;
    DROP TABLE auth_sessions;
    DROP TABLE users;
    DROP TABLE organizations;
    DROP FUNCTION pytake_tenant_visible(uuid);
    """)
