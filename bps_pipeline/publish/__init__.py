"""Publish: the audited marts as a new published.duckdb, replaced atomically (release.py)."""
