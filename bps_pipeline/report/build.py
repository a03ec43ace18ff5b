"""The district's monthly progress report, from the published marts only: a self-contained HTML
page (charts as inline SVG) and the same page as a PDF.

Its shape follows the December 2020 progress report (shared/reference): the anchor-goal table,
one page per commitment with its district figures by subgroup, charts and footnotes, then one page
per school. Every figure is the mart's display_value (a suppressed cell reads "suppressed", a
range-coded one its range); prior years and anchor changes print the marts' strings too (dbt
macro display_figure), so nothing is formatted here. The output depends only on the published
file: the same file in gives the same bytes out.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import jinja2
import pandas as pd

from bps_pipeline.report import charts

TEMPLATE = Path(__file__).with_name("report.html.j2")
SUBGROUP_ORDER = ["all", "race_group", "grade_band", "learning_model", "ell", "swd", "low_income", "subject",
                  "respondent_type", "question_id"]


@dataclass(frozen=True)
class Report:
    html: Path
    pdf: Path
    release: str
    pages: int


def text(value) -> str:
    """A mart string, or "" for a null (None or NaN, as pandas gives it)."""
    return "" if value is None or pd.isna(value) else str(value)


def day(value) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def load(published: Path) -> dict[str, pd.DataFrame]:
    tables = ["dim_metrics", "dim_schools", "anchor_goals", "metric_values", "mart_course_failure",
              "mart_daily_attendance", "mart_survey_participation"]
    with duckdb.connect(str(published), read_only=True) as con:
        data = {t: con.sql(f"select * from marts.{t}").df() for t in tables}
        data["publish_log"] = con.sql("select * from marts.publish_log order by published_at desc limit 1").df()
    return data


def newest_cells(values: pd.DataFrame, school) -> pd.DataFrame:
    """Each metric's cells of its newest school year and, within it, newest period (no days)."""
    v = values[(values["period_type"] != "day")]
    v = v[v["school_id"].isna()] if school is None else v[v["school_id"] == school]
    if v.empty:
        return v
    year = v.groupby("metric_id")["school_year"].transform("max")
    v = v[v["school_year"] == year]
    period = v.groupby("metric_id")["period"].transform("max")
    v = v[v["period"] == period]
    order = {k: i for i, k in enumerate(SUBGROUP_ORDER)}
    return v.assign(_order=v["subgroup_type"].map(order).fillna(len(order))).sort_values(
        ["metric_id", "_order", "subgroup_value"])


def rows(cells: pd.DataFrame, label: pd.Series) -> list[dict]:
    out = []
    for c in cells.itertuples():
        out.append({
            "metric_id": c.metric_id, "label": label[c.metric_id], "school_year": c.school_year, "period": c.period,
            "school": c.school_id or "", "subgroup_type": c.subgroup_type, "subgroup_value": c.subgroup_value,
            "subgroup": "All students" if c.subgroup_type == "all" else f"{c.subgroup_type.replace('_', ' ')}: {c.subgroup_value}",
            "figure": c.display_value, "suppressed": bool(c.suppressed), "range_coded": bool(c.range_coded),
            "prior": text(c.prior_display_value), "as_of": day(c.as_of_date),
        })
    return out


def commitment_charts(number: int, data: dict[str, pd.DataFrame]) -> list[str]:
    values = data["metric_values"]
    district = values[values["school_id"].isna()]
    found: list[str | None] = []
    if number == 1:
        failing = data["mart_course_failure"]
        failing = failing[failing["school_id"].isna()]
        newest = failing[failing["school_year"] == failing["school_year"].max()]
        newest = newest[newest["term"] == newest["term"].max()]
        found.append(charts.this_year_against_prior(
            newest[(newest["metric_id"] == "core_course_failure_rate") & (newest["subgroup_type"] == "subject")],
            "subgroup_value", "Core course failure rate by subject, this year and prior year"))
        found.append(charts.this_year_against_prior(
            newest[(newest["metric_id"] == "students_failing_one_plus") & (newest["subgroup_type"] == "race_group")],
            "subgroup_value", "Students failing one or more core courses by race, this year and prior year"))
    elif number == 2:
        days = data["mart_daily_attendance"]
        days = days[days["school_id"].isna()]
        days = days[days["school_year"] == days["school_year"].max()].sort_values("calendar_date")
        found.append(charts.trend(days, "calendar_date", {"attendance_rate": "attendance",
                                                          "online_activity_rate": "online activity"},
                                  "Daily attendance and online activity, district"))
    elif number == 3:
        surveys = data["mart_survey_participation"]
        surveys = surveys[surveys["school_id"].isna() & (surveys["respondent_type"] != "all")]
        newest = surveys[surveys["survey_id"] == surveys["survey_id"].max()]
        found.append(charts.bars(newest.rename(columns={"response_rate": "value"}), "respondent_type",
                                 "Survey response rate by respondent type"))
    elif number == 4:
        coverage = district[(district["metric_id"] == "chromebook_coverage") & (district["subgroup_type"] == "grade_band")]
        coverage = coverage[coverage["school_year"] == coverage["school_year"].max()]
        found.append(charts.bars(coverage, "subgroup_value", "Chromebook coverage by grade band"))
    elif number == 5:
        signin = district[(district["metric_id"] == "staff_daily_signin") & (district["period_type"] == "day")]
        signin = signin[signin["school_year"] == signin["school_year"].max()].sort_values("period")
        found.append(charts.trend(signin.rename(columns={"period": "day", "value": "staff_signin"}), "day",
                                  {"staff_signin": "staff signed in"}, "Staff daily sign-in, district"))
    return [s for s in found if s]


def context(data: dict[str, pd.DataFrame]) -> dict:
    metrics = data["dim_metrics"].sort_values(["commitment", "metric_id"])
    label = metrics.set_index("metric_id")["label"]
    log = data["publish_log"].iloc[0]
    anchors = [{"commitment": a.commitment, "goal": a.goal, "label": label[a.metric_id], "school_year": a.school_year,
                "value": text(a.display_value), "prior": text(a.prior_display_value), "change": text(a.change_display),
                "direction": a.direction, "as_of": day(a.as_of_date), "metric_id": a.metric_id}
               for a in data["anchor_goals"].sort_values("commitment").itertuples()]
    commitments = []
    for number, group in metrics.groupby("commitment", sort=True):
        cells = newest_cells(data["metric_values"][data["metric_values"]["metric_id"].isin(group["metric_id"])], None)
        commitments.append({
            "number": int(number), "name": group["commitment_name"].iloc[0], "rows": rows(cells, label),
            "charts": commitment_charts(int(number), data),
            "footnotes": [{"label": m.label, "description": m.description} for m in group.itertuples()],
        })
    schools = []
    for s in data["dim_schools"].sort_values("school_id").itertuples():
        cells = newest_cells(data["metric_values"], s.school_id)
        cells = cells[cells["subgroup_type"] == "all"]
        if not cells.empty:
            schools.append({"id": s.school_id, "name": s.school_name, "type": s.school_type, "rows": rows(cells, label)})
    sources = json.loads(log["source_extract_dates"] or "{}")
    return {"as_of": day(log["as_of_date"]) or day(log["published_at"]),
            "published_at": log["published_at"].strftime("%Y-%m-%d %H:%M UTC"), "run_id": log["run_id"],
            "sources": ", ".join(f"{name} {date}" for name, date in sorted(sources.items())), "anchors": anchors, "commitments": commitments, "schools": schools}


def render_html(data: dict[str, pd.DataFrame]) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(TEMPLATE.read_text()).render(**context(data))


def build_report(published: Path, out_dir: Path) -> Report:
    """report.html and report.pdf in out_dir, each replaced whole (a reader never sees half a file)."""
    import weasyprint

    published = Path(os.path.realpath(published))  # one release, even if a publish swaps the link meanwhile
    if not published.exists():
        raise FileNotFoundError(f"no published file at {published}: run the pipeline first")
    html = render_html(load(published))
    document = weasyprint.HTML(string=html, base_url=str(out_dir)).render()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in ("report.html", "report.pdf")}
    for name, content in (("report.html", html.encode()), ("report.pdf", document.write_pdf())):
        part = out_dir / f".{name}.part"
        part.write_bytes(content)
        os.replace(part, paths[name])
    return Report(paths["report.html"], paths["report.pdf"], published.parent.name, len(document.pages))
