"""One night's ingest: every new or changed landing file, extract by extract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from bps_pipeline.config import Settings
from bps_pipeline.ingest.contract import BY_KEY, EXTRACTS, Extract
from bps_pipeline.ingest.loader import LandingFile, Loader, LoadResult, scan_landing
from bps_pipeline.warehouse import connect


@dataclass
class ExtractLoad:
    """What one extract's new files did; extract None is the files that match no extract."""
    extract: Extract | None
    results: list[LoadResult]
    error: Exception | None = None  # an unexpected failure (a contract breach is a quarantine, not this)
    retyped: list[str] = field(default_factory=list)  # its raw columns given the contract's new types


def ingest_landing(settings: Settings, load_id: str, extracts: Iterable[Extract] = EXTRACTS,
                   strays: bool = True) -> Iterator[ExtractLoad]:
    """Load every new or changed landing file, extract by extract, on one warehouse connection,
    then quarantine the files that match no extract (strays), so a misnamed drop is seen. An
    extract that fails unexpectedly is reported and the others still load (each load is its own
    transaction)."""
    files = scan_landing(settings.landing_dir)
    with connect(settings) as con:
        loader = Loader(con, settings.quarantine_dir, settings.tmp_dir, load_id, settings.landing_dir)
        for ex in extracts:
            retyped = loader.retyped.get(ex.table, [])
            try:
                yield ExtractLoad(ex, loader.load_all(loader.pending(_files_of(files, ex))), retyped=retyped)
            except Exception as err:  # noqa: BLE001 - reported by the caller, the rest still loads
                yield ExtractLoad(ex, [], err, retyped)
        if strays:
            unknown = [f for f in files if (f.source, f.extract) not in BY_KEY]
            yield ExtractLoad(None, loader.load_all(unknown))


def _files_of(files: list[LandingFile], extract: Extract) -> list[LandingFile]:
    return [f for f in files if f.source == extract.source and f.extract == extract.name]
