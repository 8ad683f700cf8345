"""HTTP conventions (placeholder)."""
