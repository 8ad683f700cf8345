"""Contact identity and account health.

- ``contacts.bsuid``: Meta's business-scoped user id (``US.1349...``), unique per organization when known; a
  contact has a phone number (``whatsapp_id``), a BSUID or both (``whatsapp_id`` is now nullable: a username user
  writes without a phone number). ``search_text`` is rebuilt to cope with a missing number and to find BSUIDs.
- ``messages.direction`` may be ``system``: the number changes and identity notices Meta reports in a
  conversation. They are shown in the thread but are not user messages (no 24-hour window, no routing).
- ``whatsapp_numbers.account_status`` / ``account_status_at``: the WABA's standing from ``account_update``
  webhooks (``banned`` stops sending; ``restricted``; null when in good standing).

Revision ID: 0013_contact_identity
Revises: 0012_message_templates
"""

from alembic import op

from adapters.postgres.migration_sql import run_script

revision = "0013_contact_identity"
down_revision = "0012_message_templates"
branch_labels = None
depends_on = None

_SEARCH_INDEX = """DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS contacts_search_trgm_idx ON contacts USING gin (search_text gin_trgm_ops);
    END IF;
END $$"""


def upgrade() -> None:
    run_script("""
    ALTER TABLE contacts ALTER COLUMN whatsapp_id DROP NOT NULL;
    ALTER TABLE contacts ADD COLUMN bsuid text CHECK (bsuid ~ '^[A-Za-z0-9._-]{1,128}$');
    ALTER TABLE contacts ADD CONSTRAINT contacts_identity_present CHECK (whatsapp_id IS NOT NULL OR bsuid IS NOT NULL);
    ALTER TABLE contacts ADD CONSTRAINT contacts_org_bsuid_key UNIQUE (organization_id, bsuid);
    ALTER TABLE contacts DROP COLUMN search_text;
    ALTER TABLE contacts ADD COLUMN search_text text GENERATED ALWAYS AS
        (lower(coalesce(name, '') || chr(1) || coalesce(email, '') || chr(1) || coalesce(whatsapp_id, '') || chr(1)
               || coalesce(bsuid, ''))) STORED;
    ALTER TABLE messages DROP CONSTRAINT messages_direction_check;
    ALTER TABLE messages ADD CONSTRAINT messages_direction_check
        CHECK (direction IN ('inbound', 'outbound', 'system'));
    ALTER TABLE whatsapp_numbers ADD COLUMN account_status text
        CHECK (account_status IN ('restricted', 'banned'));
    ALTER TABLE whatsapp_numbers ADD COLUMN account_status_at timestamptz;
    """)
    op.execute(_SEARCH_INDEX)


def downgrade() -> None:
    run_script("""
    ALTER TABLE whatsapp_numbers DROP COLUMN account_status_at;
    ALTER TABLE whatsapp_numbers DROP COLUMN account_status;
    DELETE FROM messages WHERE direction = 'system';
    ALTER TABLE messages DROP CONSTRAINT messages_direction_check;
    ALTER TABLE messages ADD CONSTRAINT messages_direction_check CHECK (direction IN ('inbound', 'outbound'));
    DELETE FROM contacts WHERE whatsapp_id IS NULL;
    ALTER TABLE contacts DROP COLUMN search_text;
    ALTER TABLE contacts ADD COLUMN search_text text GENERATED ALWAYS AS
        (lower(coalesce(name, '') || chr(1) || coalesce(email, '') || chr(1) || whatsapp_id)) STORED;
    ALTER TABLE contacts DROP CONSTRAINT contacts_org_bsuid_key;
    ALTER TABLE contacts DROP CONSTRAINT contacts_identity_present;
    ALTER TABLE contacts DROP COLUMN bsuid;
    ALTER TABLE contacts ALTER COLUMN whatsapp_id SET NOT NULL;
    """)
    op.execute(_SEARCH_INDEX)
