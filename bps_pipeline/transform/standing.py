"""The views and seeds a daily build leaves standing.

A view holds only its SQL and a seed only its CSV file, so when neither the dbt code nor the as-of
date has changed since they were made, recreating them makes the same relations again: at 4x, 21
views and 8 seeds were 29 of a night's 73 dbt nodes and about 3 s of its dbt build (dbt's work per
node; their SQL is instant). A daily build leaves them standing; their tests still run.

Whether they stand as this code made them is read from the relations themselves, not from a
record: after a successful build of the whole project with the current figures (no as-of date),
the dbt step stamps each with a comment naming the code's digest (code_changes.code_parts). Any
other creation of one - an as-of build, whose views filter on its date; a build by hand; a build
that failed, of this code or another - makes a new relation without the stamp, and the next daily
build recreates them all and stamps them again. (After an as-of build or dbt by hand the next build
is a full one anyway: code_changes.) A seed table changed in SQL, not through dbt, keeps its stamp:
`bps-pipeline run --full-refresh` (or the weekly full refresh) rebuilds it.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from bps_pipeline.transform.code_changes import digest

STAMP = "made by bps-pipeline's dbt build of code {digest}; a daily build of this code leaves it standing"
# dbt arguments that leave views and seeds out of a build and keep every test (`empty`: excluding a
# relation does not exclude the tests on it, which check the night's data). One value after
# --exclude: dagster-dbt takes one from each and merges them with its own selection.
LEAVE_STANDING_ARGS = ["--indirect-selection", "empty", "--exclude", "config.materialized:view resource_type:seed"]


def standing_relations(manifest: dict) -> list[tuple[str, str, str]]:
    """(VIEW or TABLE, schema, name) of the project's views and seeds: what LEAVE_STANDING_ARGS leaves out."""
    out = []
    for node in manifest["nodes"].values():
        if node["resource_type"] == "seed":
            out.append(("TABLE", node["schema"], node["alias"]))
        elif node["resource_type"] == "model" and node["config"]["materialized"] == "view":
            out.append(("VIEW", node["schema"], node["alias"]))
    return sorted(out)


def still_standing(con: duckdb.DuckDBPyConnection, relations: list[tuple[str, str, str]],
                   code: Mapping[str, str]) -> bool:
    """Whether every one of `relations` exists with the stamp of this code."""
    comments = dict(((s, n), c) for s, n, c in con.execute(
        "SELECT schema_name, view_name, comment FROM duckdb_views() WHERE NOT internal "
        "UNION ALL SELECT schema_name, table_name, comment FROM duckdb_tables()").fetchall())
    wanted = STAMP.format(digest=digest(code))
    return bool(relations) and all(comments.get((schema, name)) == wanted for _, schema, name in relations)


def stamp(con: duckdb.DuckDBPyConnection, relations: list[tuple[str, str, str]], code: Mapping[str, str]) -> None:
    """Mark `relations` as made by this code, for the current figures."""
    text = STAMP.format(digest=digest(code)).replace("'", "''")
    for kind, schema, name in relations:
        con.execute(f"COMMENT ON {kind} {schema}.\"{name}\" IS '{text}'")
