"""The report's charts: Vega-Lite specs (Altair) rendered to SVG by vl-convert, inline in the page,
so the report needs no browser script, CDN or network to show them. A suppressed cell is left out
of a chart (its table row says "suppressed")."""

from __future__ import annotations

import altair as alt
import pandas as pd
import vl_convert

WIDTH, HEIGHT = 620, 220
# The palette the December 2020 report uses for this year against the prior one.
THIS_YEAR, PRIOR_YEAR = "#1f4e79", "#9dc3e6"


def svg(chart: alt.Chart) -> str:
    return vl_convert.vegalite_to_svg(chart.to_json())


def this_year_against_prior(frame: pd.DataFrame, category: str, title: str) -> str | None:
    """Grouped bars of `value` and `prior_value` per category (rates 0..1)."""
    shown = frame[frame["value"].notna()]
    if shown.empty:
        return None
    long = shown.melt(id_vars=[category], value_vars=["value", "prior_value"], var_name="year", value_name="rate")
    long["year"] = long["year"].map({"value": "this year", "prior_value": "prior year"})
    long = long[long["rate"].notna()]
    chart = alt.Chart(long, title=title).mark_bar().encode(
        x=alt.X(f"{category}:N", title=None, sort=list(shown[category])),
        xOffset=alt.XOffset("year:N", sort=["prior year", "this year"]),
        y=alt.Y("rate:Q", axis=alt.Axis(format="%"), title=None),
        color=alt.Color("year:N", scale=alt.Scale(domain=["prior year", "this year"], range=[PRIOR_YEAR, THIS_YEAR]),
                        legend=alt.Legend(orient="top", title=None)),
    ).properties(width=WIDTH, height=HEIGHT)
    return svg(chart)


def trend(frame: pd.DataFrame, date: str, series: dict[str, str], title: str) -> str | None:
    """Lines of rates over days, one per column in `series` (column -> legend label)."""
    long = frame.melt(id_vars=[date], value_vars=list(series), var_name="series", value_name="rate")
    long = long[long["rate"].notna()]
    if long.empty:
        return None
    long["series"] = long["series"].map(series)
    long[date] = pd.to_datetime(long[date]).dt.strftime("%Y-%m-%d")
    chart = alt.Chart(long, title=title).mark_line().encode(
        x=alt.X(f"{date}:T", title=None),
        y=alt.Y("rate:Q", axis=alt.Axis(format="%"), title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("series:N", scale=alt.Scale(range=[THIS_YEAR, "#c55a11"]),
                        legend=alt.Legend(orient="top", title=None)),
    ).properties(width=WIDTH, height=HEIGHT)
    return svg(chart)


def bars(frame: pd.DataFrame, category: str, title: str) -> str | None:
    """One bar per category of `value` (a rate)."""
    shown = frame[frame["value"].notna()]
    if shown.empty:
        return None
    chart = alt.Chart(shown[[category, "value"]], title=title).mark_bar(color=THIS_YEAR).encode(
        x=alt.X(f"{category}:N", title=None, sort=list(shown[category])),
        y=alt.Y("value:Q", axis=alt.Axis(format="%"), title=None),
    ).properties(width=WIDTH, height=HEIGHT)
    return svg(chart)
