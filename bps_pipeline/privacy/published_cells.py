"""The audit of a release as the gate runs it: metric_values as it would be published, against the
exact counts of int_metric_cells it hides. The wide marts are projections of metric_values (their
GX suites check that a suppressed cell shows nothing there either), so its cells are the release's."""

from __future__ import annotations

import duckdb
import pandas as pd

from bps_pipeline.privacy.audit import Exposure, audit
from bps_pipeline.privacy.suppression import coding_bands

RELEASE_CELLS = """
select t.metric_id, t.school_year, t.period_type, t.period, t.school_id, t.subgroup_type, t.subgroup_value,
       t.numerator::double as n, t.denominator::double as d,
       p.numerator is null and t.numerator is not null as hide_n,
       p.denominator is null and t.denominator is not null as hide_d,
       p.range_coded, p.display_value, cat.unit <> 'index' as additive, cat.display = 'percent' as is_rate
from intermediate.int_metric_cells t
join marts.metric_values p
  on p.metric_id = t.metric_id and p.school_year = t.school_year and p.period_type = t.period_type
 and p.period = t.period and p.school_id is not distinct from t.school_id
 and p.subgroup_type = t.subgroup_type and p.subgroup_value = t.subgroup_value
join reference.metric_catalog cat on cat.metric_id = t.metric_id
"""


def release_cells(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The audit's frame: true counts, what is hidden, and the band an attacker reads off a range label."""
    c = con.sql(RELEASE_CELLS).df()
    labels = c["display_value"].where(c["range_coded"].astype(bool), "")
    return with_bands_read_off(c, labels, con.sql("select * from reference.value_coding").df())


def with_bands_read_off(cells: pd.DataFrame, labels: pd.Series, coding: pd.DataFrame) -> pd.DataFrame:
    """code_low/code_high: the band of n/d an attacker reads off each range label ("≤20%", "≥80%")."""
    bottom, top = coding_bands(coding, cells["d"])
    labels = labels.fillna("")
    low, high = labels.str.startswith("≤"), labels.str.startswith("≥")
    c = cells.assign(code_low=float("nan"), code_high=float("nan"))
    c.loc[low, "code_low"], c.loc[low, "code_high"] = 0.0, bottom[low]
    c.loc[high, "code_low"], c.loc[high, "code_high"] = top[high], 1.0
    return c


def audit_release(con: duckdb.DuckDBPyConnection, protection_level: float) -> tuple[int, list[Exposure]]:
    """(hidden counts audited, those an attacker can narrow below the level)."""
    cells = release_cells(con)
    return int(cells["hide_n"].sum() + cells["hide_d"].sum()), audit(cells, protection_level)
