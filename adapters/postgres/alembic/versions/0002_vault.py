"""Secrets vault: secrets, their encrypted versions, usage counters and the audit log, all under RLS.

Revision ID: 0002_vault
Revises: 0001_foundation
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0002_vault"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

APP_ROLE = "pytake_app"
VAULT_TABLES = ("secrets", "secret_versions", "secret_usage", "vault_audit_events")


def enable_rls(table: str, column: str = "organization_id") -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (pytake_tenant_visible({column})) "
               f"WITH CHECK (pytake_tenant_visible({column}))")


def upgrade() -> None:
    run_script("""
    CREATE TABLE secrets (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        key text NOT NULL CHECK (key ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$'),
        environment text NOT NULL DEFAULT 'development'
            CHECK (environment IN ('development', 'staging', 'production')),
        service text CHECK (service ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'rotated')),
        current_version integer NOT NULL CHECK (current_version >= 1),
        previous_version integer CHECK (previous_version >= 1),
        last_rotated_at timestamptz,
        last_tested_at timestamptz,
        last_test_valid boolean,
        created_by uuid REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deleted_at timestamptz,
        CONSTRAINT secrets_fallback_only_when_rotated
            CHECK ((status = 'rotated') = (previous_version IS NOT NULL))
    );
    -- NULL service counts as equal (the NULL-uniqueness pitfall); deleted secrets free their key.
    CREATE UNIQUE INDEX secrets_org_key_env_service_key
        ON secrets (organization_id, key, environment, coalesce(service, '')) WHERE deleted_at IS NULL;
    CREATE INDEX secrets_org_key_idx ON secrets (organization_id, key) WHERE deleted_at IS NULL;

    CREATE TABLE secret_versions (
        secret_id uuid NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        kek_version integer NOT NULL CHECK (kek_version >= 1),
        algorithm text NOT NULL DEFAULT 'A256GCM',
        wrapped_dek bytea,
        dek_nonce bytea,
        value_nonce bytea,
        ciphertext bytea,
        state text NOT NULL CHECK (state IN ('current', 'previous', 'destroyed')),
        created_at timestamptz NOT NULL,
        destroyed_at timestamptz,
        PRIMARY KEY (secret_id, version),
        CONSTRAINT secret_versions_material_matches_state CHECK (CASE WHEN state = 'destroyed'
            THEN num_nonnulls(wrapped_dek, dek_nonce, value_nonce, ciphertext) = 0 AND destroyed_at IS NOT NULL
            ELSE num_nulls(wrapped_dek, dek_nonce, value_nonce, ciphertext) = 0 END)
    );
    CREATE INDEX secret_versions_kek_idx ON secret_versions (kek_version) WHERE state <> 'destroyed';
    CREATE UNIQUE INDEX secret_versions_one_current_key ON secret_versions (secret_id) WHERE state = 'current';

    CREATE TABLE secret_usage (
        secret_id uuid PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        total_requests bigint NOT NULL DEFAULT 0 CHECK (total_requests >= 0),
        success_count bigint NOT NULL DEFAULT 0 CHECK (success_count >= 0),
        failure_count bigint NOT NULL DEFAULT 0 CHECK (failure_count >= 0),
        last_used_at timestamptz
    );
    CREATE INDEX secret_usage_org_idx ON secret_usage (organization_id);

    CREATE TABLE vault_audit_events (
        id uuid PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        secret_id uuid,
        actor_user_id uuid,
        action text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
        outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
        details jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL
    );
    CREATE INDEX vault_audit_events_org_created_idx ON vault_audit_events (organization_id, created_at DESC);
    CREATE INDEX vault_audit_events_secret_idx ON vault_audit_events (secret_id, created_at DESC);
    """)
    for table in VAULT_TABLES:
        enable_rls(table)
    grant_app_role("secrets", "secret_versions", "secret_usage")
    # The audit log is append-only for the application.
    op.execute(f"GRANT SELECT, INSERT ON vault_audit_events TO {APP_ROLE}")
    op.execute(f"REVOKE UPDATE, DELETE ON vault_audit_events FROM {APP_ROLE}")


def downgrade() -> None:
    run_script("""
    DROP TABLE vault_audit_events;
    DROP TABLE secret_usage;
    DROP TABLE secret_versions;
    DROP TABLE secrets;
    """)
