"""Ingest: the extract contract (contract.py), the loader that enforces it (loader.py), one
night's load of the landing folder (landing.py), and its Dagster assets and sensor."""
