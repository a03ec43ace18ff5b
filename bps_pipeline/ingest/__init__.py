"""Ingest: the extract contract (contract.py) and the loader that enforces it (loader.py)."""

from __future__ import annotations

from bps_pipeline.config import Settings
from bps_pipeline.ingest.contract import Extract
from bps_pipeline.ingest.loader import Loader, LoadResult, scan_landing
from bps_pipeline.warehouse import connect


def ingest_extract(settings: Settings, extract: Extract, load_id: str) -> list[LoadResult]:
    """Load every new or changed landing file of one extract; one connection for the step."""
    files = [f for f in scan_landing(settings.landing_dir)
             if f.source == extract.source and f.extract == extract.name]
    with connect(settings) as con:
        loader = Loader(con, settings.quarantine_dir, settings.tmp_dir, load_id)
        return loader.load_all(loader.pending(files))


def ingest_unknown(settings: Settings, load_id: str) -> list[LoadResult]:
    """Quarantine landing files that match no extract, so a misnamed drop is seen, not ignored."""
    from bps_pipeline.ingest.contract import BY_KEY

    strays = [f for f in scan_landing(settings.landing_dir) if (f.source, f.extract) not in BY_KEY]
    if not strays:
        return []
    with connect(settings) as con:
        loader = Loader(con, settings.quarantine_dir, settings.tmp_dir, load_id)
        return loader.load_all(strays)
