"""Outbound HTTP for flow nodes (SSRF-guarded)."""
