"""WhatsApp numbers: one phone_number_id per organization, and one *proven* number per phone_number_id.

Revision ID: 0008_proven_numbers
Revises: 0007_refresh_rotation

A number is proven once the Graph API check succeeded with its organization's token (status ``active``); only a
proven number receives webhooks. A registration stored ``pending`` during a Graph outage no longer holds the
phone_number_id against everyone: the real owner's verified registration takes it over. Downgrading keeps, per
phone_number_id, the active row (else the oldest) and deletes the others.
"""

from adapters.postgres.migration_sql import run_script

revision = "0008_proven_numbers"
down_revision = "0007_refresh_rotation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE whatsapp_numbers DROP CONSTRAINT whatsapp_numbers_phone_number_id_key;
    ALTER TABLE whatsapp_numbers ADD CONSTRAINT whatsapp_numbers_org_phone_number_id_key
        UNIQUE (organization_id, phone_number_id);
    CREATE UNIQUE INDEX whatsapp_numbers_proven_phone_number_id_key ON whatsapp_numbers (phone_number_id)
        WHERE status = 'active';
    """)


def downgrade() -> None:
    run_script("""
    DELETE FROM whatsapp_numbers n USING whatsapp_numbers keep
     WHERE n.phone_number_id = keep.phone_number_id AND n.id <> keep.id
       AND ((keep.status = 'active') > (n.status = 'active')
            OR ((keep.status = 'active') = (n.status = 'active') AND (keep.created_at, keep.id) < (n.created_at, n.id)));
    DROP INDEX whatsapp_numbers_proven_phone_number_id_key;
    ALTER TABLE whatsapp_numbers DROP CONSTRAINT whatsapp_numbers_org_phone_number_id_key;
    ALTER TABLE whatsapp_numbers ADD CONSTRAINT whatsapp_numbers_phone_number_id_key UNIQUE (phone_number_id);
    """)
