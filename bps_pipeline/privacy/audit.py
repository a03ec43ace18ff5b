"""The attacker's audit of a release: can any hidden count be narrowed down from what is published?

A published cell shows a numerator n and a denominator d, or hides them (suppressed: both; range
coded: n only, with n/d known to lie in the coding band). Published cells satisfy linear relations
an attacker knows: a district cell is the sum of its schools' cells, a school's cell is the sum of
its subgroups' cells, a school-year cell of a daily metric is the sum of its days' cells (each for
n and d alike, wherever the published figures really add up). With those and the bounds every
count obeys (0 <= n <= d, d >= 1 for a cell that exists, the coding band), the least and greatest
value each hidden count can take is a linear program. A release is protected when every hidden
count's range is at least `protection_level` wide.

Most hidden counts are far from tight, so the audit first certifies them in bulk: two feasible
points (the true counts, and the optimum of an LP in a random direction) that differ in a count by
the protection level prove its range is at least that wide. Only the counts no such pair covers
get their own pair of LPs (scipy's HiGHS), which give their exact range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CELL = ["metric_id", "school_year", "period_type", "period", "school_id", "subgroup_type", "subgroup_value"]
TOLERANCE = 1e-6  # counts are exact decimals; two sums that agree this closely are the same sum
RANDOM_DIRECTIONS = 6  # bulk certificates, before any count gets LPs of its own


@dataclass(frozen=True)
class Exposure:
    """A hidden count an attacker can narrow to [low, high], narrower than the protection level."""
    cell: tuple
    count: str  # numerator or denominator
    low: float
    high: float

    def describe(self) -> str:
        where = dict(zip(CELL, self.cell))
        school = where["school_id"] or "district"
        exact = f"exactly {self.low:g}" if self.high - self.low < TOLERANCE else f"to {self.low:g}..{self.high:g}"
        return (f"{where['metric_id']} {where['period']} {school} {where['subgroup_type']}={where['subgroup_value']}: "
                f"its {self.count} can be narrowed {exact}")


def relations(cells: pd.DataFrame) -> list[tuple[int, np.ndarray]]:
    """(total row, part rows) for every published sum: district = its schools, school or district
    = its subgroups of one type, a daily metric's school year = its days. Positions in `cells`."""
    c = cells.reset_index(drop=True)
    rows = np.flatnonzero(c["additive"].to_numpy(bool))  # the parity indexes' counts are shares
    a = c.iloc[rows].assign(_school=c["school_id"].iloc[rows].fillna("\0district"))
    district = a["school_id"].isna().to_numpy()
    is_all = (a["subgroup_type"] == "all").to_numpy()
    is_year = (a["period_type"] == "school_year").to_numpy()
    is_day = (a["period_type"] == "day").to_numpy()
    period = ["metric_id", "school_year", "period_type", "period"]
    out: list[tuple[int, np.ndarray]] = []

    def add(groups, is_total, is_part):
        for members in groups:
            total, parts = members[is_total[members]], members[is_part[members]]
            if len(total) == 1 and len(parts):
                out.append((int(rows[total[0]]), rows[parts]))

    def groups(keys):
        return a.groupby(keys, sort=False, dropna=False).indices.values()

    # the district cell of a subgroup is the sum of the schools' cells of that subgroup
    add(groups(period + ["subgroup_type", "subgroup_value"]), district, ~district)
    # a school's (or the district's) cell is the sum of its subgroups' cells, for each subgroup type
    for members in groups(period + ["_school"]):
        total = members[is_all[members]]
        if len(total) != 1:
            continue
        kinds = a["subgroup_type"].to_numpy()[members]
        for kind in sorted(set(kinds) - {"all"}):  # a fixed order: the complements depend on it
            out.append((int(rows[total[0]]), rows[members[kinds == kind]]))
    # a daily metric's school-year cell is the sum of its days
    add(groups(["metric_id", "school_year", "_school", "subgroup_type", "subgroup_value"]), is_year, is_day)
    return out


def audit(cells: pd.DataFrame, protection_level: float, seed: int = 0, sums=None) -> list[Exposure]:
    """Every hidden count an attacker can narrow to less than protection_level. `cells` holds the
    true counts (n, d) and what is published of them (hide_n, hide_d, code_low, code_high:
    the coding band of a coded cell's n/d, else NaN), plus additive and is_rate per row."""
    c = cells.reset_index(drop=True)
    n, d = c["n"].to_numpy(float), c["d"].to_numpy(float)
    hide_n, hide_d = c["hide_n"].to_numpy(bool), c["hide_d"].to_numpy(bool)
    # unknowns: hidden numerators then hidden denominators, numbered
    var = {}
    for i in np.flatnonzero(hide_n):
        var[("n", i)] = len(var)
    for i in np.flatnonzero(hide_d):
        var[("d", i)] = len(var)
    if not var:
        return []
    truth = np.array([n[i] if k == "n" else d[i] for (k, i) in var])
    equalities = []  # (coefficients {var: 1/-1}, right-hand side)
    for total, parts in (relations(c) if sums is None else sums):
        for k, values, hidden in (("n", n, hide_n), ("d", d, hide_d)):
            if not abs(values[parts].sum() - values[total]) <= TOLERANCE:
                continue  # these do not add up in the data (a subgroup left blank), so no attacker can use them
            members = [(total, -1.0)] + [(p, 1.0) for p in parts]
            coeffs = {var[(k, i)]: sign for i, sign in members if hidden[i]}
            if coeffs:
                equalities.append((coeffs, -sum(sign * values[i] for i, sign in members if not hidden[i])))
    # bounds and the couplings of a cell's two counts
    low, high = np.zeros(len(var)), np.full(len(var), np.inf)
    inequalities = []  # (coefficients, right-hand side) for sum <= rhs
    for (k, i), j in var.items():
        if k == "d":
            low[j] = 1.0  # a cell that exists counts someone
        is_rate = bool(c.at[i, "is_rate"])
        band = (c.at[i, "code_low"], c.at[i, "code_high"])
        if k == "n" and is_rate:
            if hide_d[i]:
                inequalities.append(({j: 1.0, var[("d", i)]: -1.0}, 0.0))  # n <= d
            else:
                high[j] = min(high[j], d[i])
                if not np.isnan(band[0]):  # a coded cell: band_low <= n/d <= band_high
                    low[j], high[j] = max(low[j], band[0] * d[i]), min(high[j], band[1] * d[i])
    names = {j: key for key, j in var.items()}
    cell_keys = c[CELL].astype(object).where(c[CELL].notna(), None)
    return [Exposure(tuple(cell_keys.iloc[names[j][1]]), "numerator" if names[j][0] == "n" else "denominator", lo, hi)
            for j, lo, hi in _narrow(equalities, inequalities, low, high, truth, protection_level, seed)]


def _matrix(rows: list[tuple[dict, float]], width: int):
    from scipy.sparse import csr_matrix

    entries = [(r, j, v) for r, (coeffs, _) in enumerate(rows) for j, v in coeffs.items()]
    r, col, v = zip(*entries) if entries else ((), (), ())
    return csr_matrix((v, (r, col)), shape=(len(rows), width)), np.array([rhs for _, rhs in rows], dtype=float)


def _narrow(equalities, inequalities, low, high, truth, protection_level, seed):
    """(variable, low, high) for each variable whose feasible range is narrower than the level.

    Bulk certificate first: LPs over all variables at once in random directions, inside a box
    around the truth (any point of the box's region is feasible for the attacker too), each
    variable's spread over those points a lower bound of its range. The rest get an LP pair each
    over their own connected component, with the true bounds: their exact range."""
    from scipy.optimize import linprog
    from scipy.sparse import csgraph, vstack

    width = len(truth)
    a_eq, b_eq = _matrix(equalities, width)
    a_ub, b_ub = _matrix(inequalities, width)
    boxed = np.minimum(high, truth + 10 * protection_level + truth)

    def solve(objective, bounds, eq, ub):
        found = linprog(objective, A_ub=ub[0] if ub[0].shape[0] else None, b_ub=ub[1] if ub[0].shape[0] else None,
                        A_eq=eq[0] if eq[0].shape[0] else None, b_eq=eq[1] if eq[0].shape[0] else None,
                        bounds=bounds, method="highs")
        if found.status == 3:  # unbounded that way: the count could be anything
            return None
        if found.status != 0:
            raise RuntimeError(f"the privacy audit's linear program failed: {found.message}")
        return found.x

    rng = np.random.default_rng(seed)
    box = np.column_stack([low, boxed])
    points = [truth] + [solve(rng.normal(size=width), box, (a_eq, b_eq), (a_ub, b_ub))
                        for _ in range(RANDOM_DIRECTIONS)]
    uncertain = np.flatnonzero(np.ptp(np.vstack(points), axis=0) < protection_level - TOLERANCE)
    if not len(uncertain):
        return []
    together = vstack([a_eq, a_ub]).tocsc()
    touching = (abs(together).T @ abs(together)).tocsr()
    _, label = csgraph.connected_components(touching, directed=False)
    bounds = [(lo, None if np.isinf(hi) else hi) for lo, hi in zip(low, high)]
    seen = np.vstack(points)  # every feasible point found so far; the exact LPs add theirs
    out = []
    for j in uncertain:
        if np.ptp(seen[:, j]) >= protection_level - TOLERANCE:
            continue  # another count's LPs already proved this one wide enough
        cols = np.flatnonzero(label == label[j])
        eq_rows = np.unique(a_eq[:, cols].nonzero()[0])
        ub_rows = np.unique(a_ub[:, cols].nonzero()[0])
        eq = (a_eq[eq_rows][:, cols], b_eq[eq_rows])
        ub = (a_ub[ub_rows][:, cols], b_ub[ub_rows])
        unit = (cols == j).astype(float)
        sub = [bounds[k] for k in cols]
        ends = [solve(unit, sub, eq, ub), solve(-unit, sub, eq, ub)]
        for x in ends:
            if x is not None:
                point = truth.copy()
                point[cols] = x
                seen = np.vstack([seen, point])
        lo = ends[0][unit == 1][0] if ends[0] is not None else -np.inf
        hi = ends[1][unit == 1][0] if ends[1] is not None else np.inf
        if hi - lo < protection_level - TOLERANCE:
            out.append((int(j), float(lo), float(hi)))
    return out
