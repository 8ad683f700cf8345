"""Circuit breakers per sending number: a pause every worker replica sees.

- ``whatsapp_numbers.send_pause_code``: the Graph error that paused sending on the number (131048 spam rate
  limit, 368 temporarily blocked for policy violations, 190 access token invalid); NULL: not paused.
- ``send_paused_until``: when sending resumes by itself; NULL with a code: until the access token is
  changed in the vault (the change clears the pause).
- ``send_pause_reason``, ``send_paused_at``: what Meta said, and when.

Revision ID: 0014_send_breakers
Revises: 0010_contact_imports
"""

from adapters.postgres.migration_sql import run_script

revision = "0014_send_breakers"
down_revision = "0010_contact_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE whatsapp_numbers
        ADD COLUMN send_pause_code integer,
        ADD COLUMN send_pause_reason text CHECK (length(send_pause_reason) <= 500),
        ADD COLUMN send_paused_at timestamptz,
        ADD COLUMN send_paused_until timestamptz;
    """)


def downgrade() -> None:
    run_script("""
    ALTER TABLE whatsapp_numbers DROP COLUMN send_paused_until, DROP COLUMN send_paused_at,
        DROP COLUMN send_pause_reason, DROP COLUMN send_pause_code;
    """)
