"""Suppression and its audit on hand-made tables: each known attack recovers a hidden count from
the cells only primary suppression leaves (the old rule), and nothing from what suppress() leaves."""

import shutil

import pandas as pd
import pytest

from tests.conftest import use_folders

from bps_pipeline.privacy.audit import audit
from bps_pipeline.privacy.published_cells import with_bands_read_off
from bps_pipeline.privacy.suppression import suppress

CATALOG = pd.DataFrame([
    {"metric_id": "chronic", "suppress": True, "counts": "people", "unit": "rate", "display": "percent"},
    {"metric_id": "open", "suppress": False, "counts": "schools", "unit": "rate", "display": "percent"},
])
CODING = pd.DataFrame([
    {"min_denominator": 10, "max_denominator": 19, "bottom_at_most": 0.2, "top_at_least": 0.8},
    {"min_denominator": 20, "max_denominator": None, "bottom_at_most": 0.1, "top_at_least": 0.9},
])
MIN_CELL, LEVEL = 10, 2.0


def cell(school, n, d, subgroup=("all", "all"), metric="chronic", period=("school_year", "2021")):
    return {"metric_id": metric, "school_year": 2021, "period_type": period[0], "period": period[1],
            "school_id": school, "subgroup_type": subgroup[0], "subgroup_value": subgroup[1],
            "numerator": n, "denominator": d, "value": n / d, "cell_size": d}


def table(rows):
    return pd.DataFrame(rows)


def primary_only(cells):
    """What the cells publish with only the small ones hidden: the audit's input frame."""
    c = cells.merge(CATALOG, on="metric_id")
    c["n"], c["d"] = c["numerator"].astype(float), c["denominator"].astype(float)
    c["hide_d"] = c["suppress"] & (c["cell_size"] < MIN_CELL)
    c["hide_n"] = c["hide_d"]
    c["code_low"] = c["code_high"] = float("nan")
    c["additive"], c["is_rate"] = True, c["display"] == "percent"
    return c


def subtraction_attack(published):
    """Every hidden count that a total minus its visible parts gives exactly (one hidden part)."""
    found = {}
    p = published.reset_index(drop=True)
    key = ["metric_id", "period_type", "period", "subgroup_type", "subgroup_value"]
    for _, g in p[p["subgroup_type"] == p["subgroup_type"]].groupby(key, dropna=False):
        total, parts = g[g["school_id"].isna()], g[g["school_id"].notna()]
        for count in ("numerator", "denominator"):
            hidden = parts[parts[count].isna()]
            if len(total) == 1 and total[count].notna().all() and len(hidden) == 1:
                found[(hidden["school_id"].iloc[0], hidden["subgroup_value"].iloc[0], count)] = (
                    total[count].iloc[0] - parts[count].sum())
    return found


def published_audit_frame(cells, published):
    """The audit's input from a published table and the truth, as the gate builds it."""
    key = ["metric_id", "period_type", "period", "school_id", "subgroup_type", "subgroup_value"]
    shown = published[key + ["numerator", "denominator", "coded_label"]].rename(
        columns={"numerator": "shown_n", "denominator": "shown_d"})
    c = primary_only(cells).merge(shown, on=key, validate="one_to_one")  # by key: suppress() sorts its output
    assert len(c) == len(cells)
    c["hide_n"], c["hide_d"] = c["shown_n"].isna(), c["shown_d"].isna()
    return with_bands_read_off(c, c["coded_label"], CODING)


def run(cells):
    published = suppress(cells, CATALOG, CODING, MIN_CELL, LEVEL)
    return published, audit(published_audit_frame(cells, published), LEVEL)


# The district cell is the sum of three schools; school A (9 students) is small.
SCHOOLS = [cell(None, 30, 100), cell("A", 2, 9), cell("B", 10, 40), cell("C", 18, 51)]


def test_a_lone_hidden_school_comes_back_by_subtraction_without_complements():
    before = primary_only(table(SCHOOLS))
    exposures = audit(before, LEVEL)
    assert {(e.cell[4], e.count, e.low, e.high) for e in exposures} == {
        ("A", "numerator", 2.0, 2.0), ("A", "denominator", 9.0, 9.0)}
    shown = before.assign(numerator=before["numerator"].where(~before["hide_n"]),
                          denominator=before["denominator"].where(~before["hide_d"]))
    assert subtraction_attack(shown) == {("A", "all", "numerator"): 2, ("A", "all", "denominator"): 9}


def test_suppression_hides_a_complement_so_neither_attack_recovers_the_school():
    published, exposures = run(table(SCHOOLS))
    assert exposures == []
    assert subtraction_attack(published) == {}
    # the smallest other school is the complement; the district and C keep their exact figures
    assert published.assign(school_id=lambda f: f["school_id"].fillna("district")).set_index("school_id")["suppressed"].to_dict() == {
        "district": False, "A": True, "B": True, "C": False}
    shown = published[~published["suppressed"]]
    assert shown[["numerator", "denominator"]].values.tolist() == [[30, 100], [18, 51]]


# Two schools by two learning models: the old rule hid A's other subgroup (the school's margin),
# which left the district's In-Person cell minus B's In-Person cell = A's In-Person cell.
GRID = [
    cell(None, 40, 130), cell("A", 8, 30), cell("B", 32, 100),
    cell(None, 12, 45, ("model", "In-Person")), cell("A", 2, 8, ("model", "In-Person")),
    cell("B", 10, 37, ("model", "In-Person")),
    cell(None, 28, 85, ("model", "Remote")), cell("A", 6, 22, ("model", "Remote")),
    cell("B", 22, 63, ("model", "Remote")),
]


def test_the_other_margin_gives_the_cell_back_when_complements_stay_in_the_school():
    before = primary_only(table(GRID))
    before.loc[(before["school_id"] == "A") & (before["subgroup_value"] == "Remote"), ["hide_n", "hide_d"]] = True
    exposed = {(e.cell[4], e.cell[6], e.count) for e in audit(before, LEVEL)}
    assert ("A", "In-Person", "numerator") in exposed and ("A", "In-Person", "denominator") in exposed


def test_suppression_covers_both_margins_of_a_school_by_subgroup_table():
    published, exposures = run(table(GRID))
    assert exposures == []
    hidden = set(published.loc[published["suppressed"], ["school_id", "subgroup_value"]].itertuples(index=False))
    # A In-Person is small; the school's margin needs A Remote, the district's margin B In-Person,
    # and then B Remote (B's own margin): a 2x2 block, the least that protects it
    assert hidden == {("A", "In-Person"), ("A", "Remote"), ("B", "In-Person"), ("B", "Remote")}


# A daily metric: the school year's cell is the sum of its three days.
DAYS = [cell("A", 40, 90, period=("school_year", "2021")), cell("A", 14, 31, period=("day", "2021-01-04")),
        cell("A", 2, 8, period=("day", "2021-01-05")), cell("A", 24, 51, period=("day", "2021-01-06"))]


def test_a_hidden_day_comes_back_from_the_year_without_complements():
    exposed = {(e.cell[3], e.count) for e in audit(primary_only(table(DAYS)), LEVEL)}
    assert exposed == {("2021-01-05", "numerator"), ("2021-01-05", "denominator")}


def test_suppression_hides_a_second_day():
    published, exposures = run(table(DAYS))
    assert exposures == []
    assert published.loc[published["suppressed"], "period"].tolist() == ["2021-01-04", "2021-01-05"]


def test_rates_of_all_or_none_of_a_group_show_a_range_and_keep_their_row():
    cells = table([cell(None, 12, 40), cell("A", 12, 12), cell("B", 0, 15), cell("C", 0, 13)])
    published, exposures = run(cells)
    assert exposures == []
    assert len(published) == 4
    by_school = published.assign(school_id=lambda f: f["school_id"].fillna("district")).set_index("school_id")
    assert by_school.loc["A", "coded_label"] == "≥80%" and pd.isna(by_school.loc["A", "numerator"])
    assert by_school.loc["A", "denominator"] == 12
    # B and C are both coded "<=20%": with A's 12 of 12 known only as 10..12, the district's 12
    # leaves B and C a range of counts, never one
    assert by_school.loc["B", "coded_label"] == "≤20%"


def test_a_coded_cell_whose_sum_gives_its_numerator_gets_a_complement():
    # A is 12 of 12 (coded); the district minus B's visible 5 gives A's 12 exactly, so B is hidden too
    cells = table([cell(None, 17, 52), cell("A", 12, 12), cell("B", 5, 40)])
    published, exposures = run(cells)
    assert exposures == []
    assert published.assign(school_id=lambda f: f["school_id"].fillna("district")).set_index("school_id").loc["B", "suppressed"]


def test_metrics_that_count_no_people_are_never_hidden():
    cells = table([cell(None, 3, 5, metric="open"), cell("A", 1, 2, metric="open"), cell("B", 2, 3, metric="open")])
    published, _ = run(cells)
    assert not published["suppressed"].any()
    assert published["numerator"].tolist() == [3, 1, 2]


@pytest.mark.parametrize("rows", [SCHOOLS, GRID, DAYS])
def test_figures_of_cells_left_visible_are_the_exact_counts(rows):
    cells = table(rows)
    published, _ = run(cells)
    key = ["school_id", "period", "subgroup_value"]
    both = published.merge(cells, on=key, suffixes=("", "_true"))
    visible = both[~both["suppressed"]]
    assert len(both) == len(cells) and len(visible) > 0
    assert (visible["denominator"] == visible["denominator_true"]).all()
    shown = visible[visible["coded_label"].isna()]
    assert (shown["numerator"] == shown["numerator_true"]).all()


# One school by four subgroup types, each with a small group: the sums' order decides which
# complements are chosen, so it must not depend on the process (Python salts its string hashes).
TYPES = [cell(None, 40, 120), cell("A", 14, 50), cell("B", 26, 70)] + [
    row for kind in ("ell", "gender", "race_group", "sped") for school, n, d in (("A", 14, 50), ("B", 26, 70))
    for row in (cell(school, 1, 4, (kind, "small")), cell(school, n - 1, d - 4, (kind, "rest")))] + [
    row for kind in ("ell", "gender", "race_group", "sped")
    for row in (cell(None, 2, 8, (kind, "small")), cell(None, 38, 112, (kind, "rest")))]

IN_A_PROCESS = """
import json
from tests.test_privacy import CATALOG, TYPES, primary_only, run, table
from bps_pipeline.privacy.audit import relations
published, _ = run(table(TYPES))
print(json.dumps([[[t, p.tolist()] for t, p in relations(primary_only(table(TYPES)))],
                  published["suppressed"].tolist()]))
"""


def test_the_same_cells_are_hidden_in_every_process():
    import os
    import subprocess
    import sys

    outputs = {subprocess.run([sys.executable, "-c", IN_A_PROCESS], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(1, 6)}
    assert len(outputs) == 1, outputs


# --- the published file of a generated district, attacked with only what it shows ---

def test_no_suppressed_cell_of_a_published_district_comes_back(pipeline_run):
    """Both attacks on the published file, checked against the warehouse's exact counts (what
    `make bench-privacy` reports at 20,000 students)."""
    from bench.privacy import measure_release

    settings, result = pipeline_run
    assert result.success
    m = measure_release(settings)
    assert m["hidden_counts"] > 100 and m["recovered_by_subtraction"] == 0
    assert m["audited_counts"] >= m["hidden_counts"] and m["narrowed_by_lp"] == 0
    assert 0 < m["suppressed"] < m["cells"] and m["range_coded"] > 0


def test_the_gate_fails_a_release_whose_complement_is_shown_and_names_the_cell(pipeline_run, tmp_path, monkeypatch):
    import duckdb

    from bps_pipeline.quality.checks import privacy_check_result

    settings, _ = pipeline_run
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(settings.warehouse_path, data / settings.warehouse_path.name)
    broken = use_folders(monkeypatch, data, settings.landing_dir)
    with duckdb.connect(str(broken.warehouse_path)) as con:
        # a school's lone complement shown again: the district's cell minus the others gives the small school back
        school = con.execute("""select v.metric_id, v.period, v.school_id from marts.metric_values v
                            join intermediate.int_metric_cells t using (metric_id, school_year, period_type, period, school_id, subgroup_type, subgroup_value)
                            where v.suppressed and v.school_id is not null and v.subgroup_type = 'all'
                              and v.period_type = 'school_year' and t.cell_size >= 10 limit 1""").fetchone()
        assert school is not None
        con.execute("""update marts.metric_values v set numerator = t.numerator, denominator = t.denominator,
                          value = t.value, suppressed = false
                       from intermediate.int_metric_cells t
                       where t.metric_id = v.metric_id and t.period = v.period and t.school_id = v.school_id
                         and t.subgroup_type = 'all' and v.subgroup_type = 'all' and t.period_type = v.period_type
                         and v.metric_id = ? and v.period = ? and v.school_id = ?""", list(school))
    result = privacy_check_result(broken)
    assert not result.passed and result.severity.value == "ERROR"
    assert result.metadata["exposed"].value >= 1
    assert "can be narrowed" in result.metadata["observed"].value
