"""Use cases of the secrets vault (shared/VAULT.md)."""
