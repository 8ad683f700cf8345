"""The inbox and the outbox are the queues: webhooks and queued messages are claimed in batches.

- ``webhook_events``: ``seq`` (arrival order), ``sender_keys`` (who the webhook is about, so one contact's
  webhooks are never applied by two workers at once) and ``lease_until`` (a claimed batch; a crashed
  worker's lease runs out and another worker claims the events again).
- ``messages``: ``seq`` (the order messages were queued in, also within one transaction),
  ``next_attempt_at`` (a send refused for now waits for its backoff), ``confirmed_at`` (a
  status webhook arrived: a media message no longer holds back the next message to its recipient), and
  the partial indexes the sender claims from.
- ``flow_automations.dispatch_finished_at``: every recipient was given its opening message; the automation
  completes once every recipient's send is final.

Revision ID: 0009_inbox_outbox
Revises: 0008_proven_numbers
"""

from adapters.postgres.migration_sql import run_script

revision = "0009_inbox_outbox"
down_revision = "0008_proven_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE webhook_events
        ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
        ADD COLUMN sender_keys text[] NOT NULL DEFAULT '{}',
        ADD COLUMN lease_until timestamptz;
    CREATE INDEX webhook_events_queue_idx ON webhook_events (seq) WHERE status = 'pending';
    CREATE INDEX webhook_events_leased_idx ON webhook_events (lease_until)
        WHERE status = 'pending' AND lease_until IS NOT NULL;
    ALTER TABLE messages
        ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
        ADD COLUMN next_attempt_at timestamptz,
        ADD COLUMN confirmed_at timestamptz;
    CREATE INDEX messages_outbox_idx ON messages (number_id, seq) WHERE status = 'queued';
    CREATE INDEX messages_queued_contact_idx ON messages (number_id, contact_id, seq) WHERE status = 'queued';
    ALTER TABLE flow_automations ADD COLUMN dispatch_finished_at timestamptz;
    """)


def downgrade() -> None:
    run_script("""
    ALTER TABLE flow_automations DROP COLUMN dispatch_finished_at;
    DROP INDEX messages_queued_contact_idx;
    DROP INDEX messages_outbox_idx;
    ALTER TABLE messages DROP COLUMN confirmed_at, DROP COLUMN next_attempt_at, DROP COLUMN seq;
    DROP INDEX webhook_events_leased_idx;
    DROP INDEX webhook_events_queue_idx;
    ALTER TABLE webhook_events DROP COLUMN lease_until, DROP COLUMN sender_keys, DROP COLUMN seq;
    """)
