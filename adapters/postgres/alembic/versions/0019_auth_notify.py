"""Tell the API processes when what authenticates a request changes.

A statement that revokes a session (logout, refresh-token reuse, password reset), puts an access token on the
deny-list, changes a user (role, active flag, organization) or deletes a user or an organization sends
``NOTIFY pytake_auth`` when it commits (a statement-level trigger: one notification per statement, whatever
the number of rows). Every API process listens and forgets the access facts it remembered
(``adapters/postgres/access_cache.py``), so a logout counts on the next request on every replica.

Revision ID: 0019_auth_notify
Revises: 0018_fast_reads
"""

from alembic import op

revision = "0019_auth_notify"
down_revision = "0018_fast_reads"
branch_labels = None
depends_on = None

CHANNEL = "pytake_auth"
WATCHED = (("auth_sessions", "UPDATE OR DELETE"), ("revoked_access_tokens", "INSERT"),
           ("users", "UPDATE OR DELETE"), ("organizations", "DELETE"))


def upgrade() -> None:
    op.execute(f"""
    CREATE FUNCTION pytake_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
        RETURN NULL;
    END $$""")
    for table, events in WATCHED:
        op.execute(f"CREATE TRIGGER {table}_auth_changed AFTER {events} ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION pytake_auth_changed()")


def downgrade() -> None:
    for table, _ in WATCHED:
        op.execute(f"DROP TRIGGER {table}_auth_changed ON {table}")
    op.execute("DROP FUNCTION pytake_auth_changed()")
