"""Authentication in one statement: ``pytake_access`` reads the deny-list, the session and the user at once.

An authenticated request used to spend four round trips (tenant settings, deny-list, session, user) in a
transaction of its own before its use case. ``pytake_access`` answers the same questions in one statement run
outside any transaction. It is ``SECURITY DEFINER`` (the owner of the tables, which row-level security does not
restrict) because the organization of the caller is what it establishes; it returns the facts about one user
id, session id and token id the caller already holds in a verified token, nothing else, and only the
application role may execute it.

Revision ID: 0011_fast_reads
Revises: 0010_contact_imports
"""

from alembic import op

revision = "0011_fast_reads"
down_revision = "0010_contact_imports"
branch_labels = None
depends_on = None

APP_ROLE = "pytake_app"


def upgrade() -> None:
    op.execute("""
    CREATE FUNCTION pytake_access(p_user uuid, p_session uuid, p_jti text, p_now timestamptz, p_acting uuid)
    RETURNS TABLE (organization_id uuid, role text, is_active boolean, session_active boolean, denied boolean,
                   acting_exists boolean)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
        SELECT u.organization_id, u.role, u.is_active,
               EXISTS (SELECT 1 FROM auth_sessions s
                       WHERE s.id = p_session AND s.revoked_at IS NULL AND s.expires_at > p_now),
               EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = p_jti),
               p_acting IS NULL OR EXISTS (SELECT 1 FROM organizations o WHERE o.id = p_acting)
        FROM (SELECT 1) AS one LEFT JOIN users u ON u.id = p_user
    $$""")
    op.execute("REVOKE ALL ON FUNCTION pytake_access(uuid, uuid, text, timestamptz, uuid) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION pytake_access(uuid, uuid, text, timestamptz, uuid) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION pytake_access(uuid, uuid, text, timestamptz, uuid)")
