"""The December 2020 report's figures, read from their one home: the dbt seed `report_figures`.

The generator calibrates to them, the tests compare against them and `bps-pipeline run` prints
the published figures beside them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from bps_pipeline.config import DBT_PROJECT_DIR


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
    with open(DBT_PROJECT_DIR / "seeds" / "report_figures.csv", newline="") as fh:
        return tuple(
            ReportFigure(
                metric_id=r["metric_id"],
                school_year=int(r["school_year"]),
                period=r["period"],
                subgroup_type=r["subgroup_type"],
                subgroup_value=r["subgroup_value"],
                value=float(r["value"]),
                tolerance=float(r["tolerance"]),
                basis=r["basis"],
            )
            for r in csv.DictReader(fh)
        )


def target(metric_id: str, school_year: int, subgroup_value: str = "all") -> float:
    """The report's value for one figure (KeyError if the report has none)."""
    for f in report_figures():
        if (f.metric_id, f.school_year, f.subgroup_value) == (metric_id, school_year, subgroup_value):
            return f.value
    raise KeyError((metric_id, school_year, subgroup_value))
