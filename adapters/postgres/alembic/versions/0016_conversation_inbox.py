"""The agents' inbox: a conversation's state, assignee, unread count and read time.

- ``state``: ``bot`` | ``waiting`` (handed off, nobody took it) | ``assigned`` | ``closed``; backfilled from
  ``handoff_at`` (a handed-off conversation is ``waiting``, the others ``bot``).
- ``assignee_id``: the agent who took it (users are never deleted but with their organization; ON DELETE SET
  NULL keeps the row, and an ``assigned`` row without an assignee reads as ``waiting``).
- ``unread_count`` / ``last_read_at``: inbound messages since an agent last opened the conversation.
- ``last_message_at`` (existing) is the conversation's last activity: the inbox lists by it, newest first
  (``conversations_org_activity_idx``). The last message preview is read through ``messages_contact_idx``
  (organization, contact, occurred_at DESC, id DESC), which already serves the thread's keyset pages.

Revision ID: 0016_conversation_inbox
Revises: 0015_events
"""


from adapters.postgres.migration_sql import run_script

revision = "0016_conversation_inbox"
down_revision = "0015_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE conversations
        ADD COLUMN state text NOT NULL DEFAULT 'bot'
            CONSTRAINT conversations_state_check CHECK (state IN ('bot', 'waiting', 'assigned', 'closed')),
        ADD COLUMN assignee_id uuid REFERENCES users(id) ON DELETE SET NULL,
        ADD COLUMN unread_count integer NOT NULL DEFAULT 0 CONSTRAINT conversations_unread_check
            CHECK (unread_count >= 0),
        ADD COLUMN last_read_at timestamptz,
        ADD CONSTRAINT conversations_assignee_check CHECK (assignee_id IS NULL OR state = 'assigned');
    UPDATE conversations SET state = 'waiting' WHERE handoff_at IS NOT NULL;
    CREATE INDEX conversations_org_activity_idx
        ON conversations (organization_id, last_message_at DESC NULLS LAST, id DESC);
    CREATE INDEX conversations_assignee_idx ON conversations (assignee_id) WHERE assignee_id IS NOT NULL;
    """)


def downgrade() -> None:
    run_script("""
    DROP INDEX conversations_assignee_idx;
    DROP INDEX conversations_org_activity_idx;
    ALTER TABLE conversations DROP CONSTRAINT conversations_assignee_check,
        DROP COLUMN last_read_at, DROP COLUMN unread_count, DROP COLUMN assignee_id, DROP COLUMN state;
    """)
