"""The metric catalog, read from its one home: the dbt seed `metric_catalog` (id, commitment,
unit, what the denominator counts, whether it is suppressed, its main source)."""

from __future__ import annotations

import csv
from functools import lru_cache

from bps_pipeline.config import DBT_PROJECT_DIR

RATE_UNITS = ("rate", "mean_of_daily_rates")  # values that are fractions 0..1 (not the parity indexes)


@lru_cache(maxsize=1)
def metric_catalog() -> dict[str, dict[str, str]]:
    with open(DBT_PROJECT_DIR / "seeds" / "metric_catalog.csv", newline="") as fh:
        return {r["metric_id"]: r for r in csv.DictReader(fh)}


def is_rate(metric_id: str) -> bool:
    return metric_catalog().get(metric_id, {}).get("unit") in RATE_UNITS
