"""Which published cells hide what, so that no small group's counts can be worked out.

1. Primary: a cell of a metric whose denominator counts people (the catalog's `suppress`) with
   fewer than min_cell_size of them hides its numerator and denominator.
2. Range coding (seed value_coding): a rate over people whose value lies in the band's bottom or
   top - none or nearly none, all or nearly all of the group - shows a range label instead of its
   value and numerator; its denominator stays.
3. Complements: in every published sum (audit.relations: schools to district, subgroups to their
   school, days to their year) where exactly one member hides a count, the smallest other part is
   hidden too; repeated until no sum has a lone hidden member.
4. The attacker's audit (audit.py) then bounds every hidden count; each one it can narrow to less
   than the protection level gets one more complement beside it, and the audit runs again.
Complements are chosen smallest first (the least information hidden), and a total only when no
part is left to hide. The dbt model int_metric_cells_suppressed runs this; the quality gate runs
the audit again on the marts as they would be published.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bps_pipeline.privacy.audit import CELL, TOLERANCE, audit, relations

MAX_REPAIR_ROUNDS = 25


def coding_bands(coding: pd.DataFrame, d: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each denominator's bottom and top band (NaN where no rule covers it)."""
    bottom = pd.Series(np.nan, index=d.index)
    top = pd.Series(np.nan, index=d.index)
    for rule in coding.itertuples():
        upper = np.inf if pd.isna(rule.max_denominator) else rule.max_denominator
        covered = (d >= rule.min_denominator) & (d <= upper)
        bottom[covered], top[covered] = rule.bottom_at_most, rule.top_at_least
    return bottom, top


def suppress(cells: pd.DataFrame, catalog: pd.DataFrame, coding: pd.DataFrame, min_cell_size: int,
             protection_level: float) -> pd.DataFrame:
    """The cells, ordered by their key, with what they show: `suppressed`, `numerator_hidden`,
    `coded_label` (the range shown instead of the value), and numerator, denominator and value
    nulled where hidden."""
    # in the cells' own order, whatever order the table scan gave them: ties go the same way every night
    ordered = cells.sort_values(CELL, na_position="first", kind="stable").reset_index(drop=True)
    c = ordered.merge(catalog[["metric_id", "suppress", "counts", "unit", "display"]], on="metric_id", how="left")
    c["n"], c["d"] = c["numerator"].astype(float), c["denominator"].astype(float)
    c["additive"] = c["unit"] != "index"  # the parity indexes' counts are shares, which do not add up
    c["is_rate"] = c["display"] == "percent"
    hide = c["suppress"].fillna(False).astype(bool) & (c["cell_size"].fillna(0) < min_cell_size)
    value = c["n"] / c["d"]
    bottom, top = coding_bands(coding, c["d"])
    codable = c["is_rate"] & (c["counts"] == "people") & c["suppress"].fillna(False).astype(bool) & ~hide
    coded_bottom = codable & (value <= bottom + TOLERANCE)
    coded_top = codable & (value >= top - TOLERANCE)
    c["code_low"] = np.where(coded_bottom, 0.0, np.where(coded_top, top, np.nan))
    c["code_high"] = np.where(coded_bottom, bottom, np.where(coded_top, 1.0, np.nan))
    c["coded_label"] = None
    c.loc[coded_bottom, "coded_label"] = bottom[coded_bottom].map(lambda b: f"≤{b:.0%}")
    c.loc[coded_top, "coded_label"] = top[coded_top].map(lambda t: f"≥{t:.0%}")
    c["hide_d"] = hide.to_numpy()
    c["hide_n"] = (hide | coded_bottom | coded_top).to_numpy()

    published_sums = relations(c)
    sums = _sums_that_hold(c, published_sums)
    _complement(c, sums)
    for _ in range(MAX_REPAIR_ROUNDS):
        exposures = audit(c, protection_level, sums=published_sums)
        if not exposures:
            break
        _repair(c, sums, exposures, protection_level)
        _complement(c, sums)
    else:
        raise RuntimeError(f"suppression left {len(exposures)} hidden counts an attacker can narrow "
                           f"(first: {exposures[0].describe()})")
    return _published(c)


def _sums_that_hold(c: pd.DataFrame, published_sums) -> list[tuple[str, int, np.ndarray]]:
    """(count, total, parts) of every sum that holds in the data, for the numerator and the denominator."""
    out = []
    n, d = c["n"].to_numpy(), c["d"].to_numpy()
    for total, parts in published_sums:
        for kind, values in (("n", n), ("d", d)):
            if abs(values[parts].sum() - values[total]) <= TOLERANCE:
                out.append((kind, total, parts))
    return out


def _hide(c: pd.DataFrame, row: int) -> None:
    c.at[row, "hide_n"] = c.at[row, "hide_d"] = True
    c.at[row, "coded_label"] = None


def _complement(c: pd.DataFrame, sums) -> None:
    """Until no sum has exactly one member hiding a count: hide its smallest other part."""
    changed = True
    while changed:
        changed = False
        hidden = {"n": c["hide_n"].to_numpy(), "d": c["hide_d"].to_numpy()}
        for kind, total, parts in sums:
            members = [total, *parts]
            if sum(hidden[kind][m] for m in members) != 1:
                continue
            pick = _smallest(c, [p for p in parts if not hidden[kind][p]])
            if pick is None and not hidden[kind][total]:
                pick = total
            if pick is not None:
                _hide(c, pick)
                hidden = {"n": c["hide_n"].to_numpy(), "d": c["hide_d"].to_numpy()}
                changed = True


def _smallest(c: pd.DataFrame, rows: list[int]) -> int | None:
    return min(rows, key=lambda r: (c.at[r, "d"], r)) if rows else None


def _repair(c: pd.DataFrame, sums, exposures, protection_level: float) -> None:
    """Beside each count the audit could narrow, hide one more member of a sum it is in: the
    smallest whose own counts leave room (its numerator and the rest both at least the level)."""
    index = {tuple(None if pd.isna(v) else v for v in key): i for i, key in enumerate(c[CELL].itertuples(index=False))}
    hidden = c["hide_d"].to_numpy()
    for e in exposures:
        row = index[e.cell]
        kind = "n" if e.count == "numerator" else "d"
        candidates = sorted({m for k, t, ps in sums if k == kind and (row == t or row in ps)
                             for m in ps if not hidden[m]}, key=lambda r: (c.at[r, "d"], r))
        if not candidates:  # only totals are left to hide
            candidates = sorted({t for k, t, ps in sums if k == kind and row in ps and not hidden[t]})
        roomy = [r for r in candidates if min(c.at[r, "n"], c.at[r, "d"] - c.at[r, "n"]) >= protection_level]
        pick = (roomy or candidates or [None])[0]
        if pick is not None:
            _hide(c, pick)
            hidden = c["hide_d"].to_numpy()


def _published(c: pd.DataFrame) -> pd.DataFrame:
    out = c.copy()
    out["suppressed"] = out["hide_d"]
    out["numerator_hidden"] = out["hide_n"] & out["n"].notna()
    out.loc[out["hide_n"], "numerator"] = None
    out.loc[out["hide_d"], "denominator"] = None
    out.loc[out["hide_n"], "value"] = None
    return out.drop(columns=["n", "d", "hide_n", "hide_d", "code_low", "code_high", "additive", "is_rate",
                             "suppress", "counts", "unit", "display"])
