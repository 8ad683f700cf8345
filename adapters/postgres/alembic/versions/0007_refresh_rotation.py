"""Refresh-token families rotate strictly only once their client has presented a rotated token.

Revision ID: 0007_refresh_rotation
Revises: 0006_send_admissions

A family (auth_sessions row) accepts its login token again and again until the client first presents the child a
refresh returned; from then on ``strict_rotation`` is true and any used token is theft. Families that already
presented a rotated token are strict from the start. ``refresh_tokens (session_id)`` serves the replacement of a
pending child and the cascade from a deleted session.
"""

from adapters.postgres.migration_sql import run_script

revision = "0007_refresh_rotation"
down_revision = "0006_send_admissions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE auth_sessions ADD COLUMN strict_rotation boolean NOT NULL DEFAULT false;
    UPDATE auth_sessions s SET strict_rotation = true WHERE EXISTS (
        SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.parent_id IS NOT NULL AND t.used_at IS NOT NULL);
    CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
    """)


def downgrade() -> None:
    run_script("""
    DROP INDEX refresh_tokens_session_idx;
    ALTER TABLE auth_sessions DROP COLUMN strict_rotation;
    """)
