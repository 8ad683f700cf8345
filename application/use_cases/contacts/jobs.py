"""Worker job names of contacts."""

from __future__ import annotations

IMPORT_CONTACTS_JOB = "import_contacts"
