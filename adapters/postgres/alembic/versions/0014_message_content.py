"""Inbound message contents: a message the contact deleted for everyone (a WhatsApp ``revoke``) keeps its row,
marked by ``deleted_at``; edits and reactions live in the message's ``content`` (no new column).

Revision ID: 0014_message_content
Revises: 0013_contact_identity
"""

from alembic import op

revision = "0014_message_content"
down_revision = "0013_contact_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE messages ADD COLUMN deleted_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE messages DROP COLUMN deleted_at")
