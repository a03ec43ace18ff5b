"""The dbt seeds the Python side reads, from their one home in dbt_project/seeds/: the metric
catalog (id, commitment, unit, what the denominator counts, suppression, main source) and the
December 2020 report's figures (the generator calibrates to them, the tests and `run` compare)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from bps_pipeline.config import DBT_PROJECT_DIR

def _seed(name: str) -> list[dict[str, str]]:
    with open(DBT_PROJECT_DIR / "seeds" / f"{name}.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def metric_catalog() -> dict[str, dict[str, str]]:
    return {r["metric_id"]: r for r in _seed("metric_catalog")}


def is_rate(metric_id: str) -> bool:
    """A fraction 0..1, shown as a percent (the parity indexes are ratios)."""
    return metric_catalog().get(metric_id, {}).get("display") == "percent"


@dataclass(frozen=True)
class ReportFigure:
    metric_id: str
    school_year: int
    period: str
    subgroup_type: str
    subgroup_value: str
    value: float
    tolerance: float
    basis: str


@lru_cache(maxsize=1)
def report_figures() -> tuple[ReportFigure, ...]:
    return tuple(ReportFigure(r["metric_id"], int(r["school_year"]), r["period"], r["subgroup_type"],
                              r["subgroup_value"], float(r["value"]), float(r["tolerance"]), r["basis"])
                 for r in _seed("report_figures"))


def target(metric_id: str, school_year: int, subgroup_value: str = "all") -> float:
    """The report's value for one figure (KeyError if the report has none)."""
    for f in report_figures():
        if (f.metric_id, f.school_year, f.subgroup_value) == (metric_id, school_year, subgroup_value):
            return f.value
    raise KeyError((metric_id, school_year, subgroup_value))
