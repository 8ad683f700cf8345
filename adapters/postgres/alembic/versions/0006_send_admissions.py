"""Per-second admission counters: a hard cap on sends per calendar second, beside the leaky-bucket pacer.

Revision ID: 0006_send_admissions
Revises: 0005_automations
"""

from adapters.postgres.migration_sql import grant_app_role, run_script

revision = "0006_send_admissions"
down_revision = "0005_automations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE send_admissions (
        key text NOT NULL,
        second timestamptz NOT NULL,
        count integer NOT NULL,
        PRIMARY KEY (key, second)
    );
    """)
    grant_app_role("send_admissions")


def downgrade() -> None:
    run_script("DROP TABLE send_admissions;")
