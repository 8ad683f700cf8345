"""Live events: the per-organization event log streamed over SSE, its purge watermarks and stream tickets.

- ``events``: one row per thing that happened (``message.received``...), written in the transaction of the
  change it tells of; ``id`` (bigserial) is the SSE event id. Rows of one organization are inserted under a
  transaction-level advisory lock taken just before commit, so their ids are in commit order (a reader that
  has seen id N never later finds a smaller id committed). Kept 24 hours.
- ``event_purges``: per organization, the highest event id the retention purge deleted; a client resuming
  from an older id is told to refetch (``reset``).
- ``event_tickets``: single-use tickets for ``GET /events?ticket=`` (browsers' EventSource cannot send
  headers); only the SHA-256 of a ticket is stored.

Revision ID: 0015_events
Revises: 0014_message_content
"""

from alembic import op

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0015_events"
down_revision = "0014_message_content"
branch_labels = None
depends_on = None

TABLES = ("events", "event_purges", "event_tickets")


def upgrade() -> None:
    run_script("""
    CREATE TABLE events (
        id bigserial PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        type text NOT NULL CHECK (length(type) BETWEEN 1 AND 64),
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX events_org_id_idx ON events (organization_id, id);
    CREATE INDEX events_created_idx ON events (created_at);
    CREATE TABLE event_purges (
        organization_id uuid PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
        purged_through bigint NOT NULL
    );
    CREATE TABLE event_tickets (
        token_hash text PRIMARY KEY,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
    );
    CREATE INDEX event_tickets_expires_idx ON event_tickets (expires_at);
    """)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING (pytake_tenant_visible(organization_id)) "
                   "WITH CHECK (pytake_tenant_visible(organization_id))")
    grant_app_role(*TABLES)


def downgrade() -> None:
    run_script("""
    DROP TABLE event_tickets;
    DROP TABLE event_purges;
    DROP TABLE events;
    """)
