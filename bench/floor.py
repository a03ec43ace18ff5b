"""The floor: what DuckDB alone needs for the same result, to compare the pipeline with.

One process bulk-loads the landing files into typed raw tables (one read per extract and header),
then runs the SQL dbt compiled for every seed and model in dependency order, and a Python model's
`model()` function on the same connection. No contract checks, tests, quarantine, load log, gate,
publish or orchestration; only the file indexes, which the compiled SQL reads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from bps_pipeline.config import DBT_PROJECT_DIR, DBT_TARGET_DIR, load_settings
from bps_pipeline.ingest.contract import BY_KEY
from bps_pipeline.ingest.loader import ensure_raw_schema, index_files, insert_csv, read_header, scan_landing
from bps_pipeline.warehouse import connect, dbt_command, dbt_env, sql_path

CELL = ("metric_id", "school_year", "period_type", "period", "as_of_date", "school_id", "subgroup_type", "subgroup_value")
FIGURES = ("numerator", "denominator", "value", "prior_value")


def floor_path(settings) -> Path:
    return settings.data_dir / "floor" / "warehouse.duckdb"  # same file name: compiled SQL names the catalog


def compile_for_floor(env: dict) -> None:
    """dbt compile (not timed): the floor runs exactly the SQL a full build runs."""
    settings = load_settings(env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(dbt_command("compile", "--full-refresh", "--quiet"), env={**env, **dbt_env(settings)},
                   check=True, capture_output=True)


def floor(settings) -> None:
    manifest = json.loads((DBT_TARGET_DIR / "manifest.json").read_text())
    path = floor_path(settings)
    shutil.rmtree(path.parent, ignore_errors=True)
    path.parent.mkdir(parents=True)
    with connect(settings, path) as con:  # the pipeline's memory limit, threads and spill folder
        ensure_raw_schema(con)
        _load(con, scan_landing(settings.landing_dir), path.parent)
        _models(con, manifest, DBT_TARGET_DIR / "compiled")


def _load(con, files: list, work_dir: Path) -> None:
    groups: dict[tuple, list] = {}
    for f in files:
        header, _ = read_header(f.path)
        groups.setdefault((f.source, f.extract, tuple(h.strip().lower() for h in header)), []).append(f)
    for (source, extract, names), group in groups.items():
        ex = BY_KEY[(source, extract)]
        paths = []
        for f in group:  # not UTF-8: the same Windows-1252 reading as ingest
            data = f.path.read_bytes()
            try:
                data.decode("utf-8")
                paths.append(str(f.path))
            except UnicodeDecodeError:
                src = work_dir / f.name
                src.write_text(data.decode("cp1252"), encoding="utf-8")
                paths.append(str(src))
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        insert_csv(con, ex, list(names), [(p, f.name, f.extract_date) for p, f in zip(paths, group)], "floor", now,
                   checked=False)
        index_files(con, ex, now, [f.name for f in group])


def _models(con, manifest: dict, compiled: Path) -> None:
    nodes = manifest["nodes"]
    for uid in _topological([u for u, n in nodes.items() if n["resource_type"] in ("model", "seed")], nodes):
        n = nodes[uid]
        rel = f'{n["schema"]}."{n["alias"]}"'
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {n['schema']}")
        if n["resource_type"] == "seed":
            seed = DBT_PROJECT_DIR / n["original_file_path"]
            con.execute(f"CREATE OR REPLACE TABLE {rel} AS SELECT * FROM read_csv('{sql_path(seed)}', header=true)")
            continue
        if n.get("language") == "python":
            _python_model(con, n, nodes, rel)
            continue
        sql = (compiled / n["package_name"] / n["original_file_path"]).read_text()
        kind = "VIEW" if n["config"]["materialized"] == "view" else "TABLE"
        con.execute(f"CREATE OR REPLACE {kind} {rel} AS {sql}")


class _ModelContext:
    """The little of dbt's `dbt` argument a Python model here uses: ref() and its config."""

    def __init__(self, con, node: dict, nodes: dict):
        self._con, self._node = con, node
        self._relations = {n["name"]: f'{n["schema"]}."{n["alias"]}"' for n in nodes.values()}
        self.config = _ModelConfig(node["config"])

    def ref(self, name: str):
        return self._con.sql(f"SELECT * FROM {self._relations[name]}")


class _ModelConfig(dict):
    def __call__(self, **_):  # dbt.config(materialized=...): the manifest has it already
        return None


def _python_model(con, node: dict, nodes: dict, rel: str) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(node["name"], DBT_PROJECT_DIR / node["original_file_path"])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = module.model(_ModelContext(con, node, nodes), con)
    con.register("python_model_result", frame)
    con.execute(f"CREATE OR REPLACE TABLE {rel} AS SELECT * FROM python_model_result")
    con.unregister("python_model_result")


def _topological(uids: list[str], nodes: dict) -> list[str]:
    wanted, done, out = set(uids), set(), []

    def visit(uid):
        if uid in done or uid not in wanted:
            return
        done.add(uid)
        for dep in nodes[uid]["depends_on"].get("nodes", []):
            visit(dep)
        out.append(uid)

    for uid in uids:
        visit(uid)
    return out


def differing_figures(pipeline: Path, floor_db: Path) -> int:
    """Rows of marts.metric_values the two warehouses do not share: a cell in one only (or once
    more in one), suppressed in one only, or with any figure different (they are exact)."""
    cell = ", ".join(CELL)
    rows = f"SELECT *, row_number() OVER (PARTITION BY {cell}) AS _copy FROM {{db}}.marts.metric_values"
    same_cell = " AND ".join(f"a.{c} IS NOT DISTINCT FROM b.{c}" for c in (*CELL, "_copy"))
    same_figures = " AND ".join(f"a.{f} IS NOT DISTINCT FROM b.{f}" for f in FIGURES)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{sql_path(pipeline)}' AS pipeline (READ_ONLY)")
        con.execute(f"ATTACH '{sql_path(floor_db)}' AS floor (READ_ONLY)")
        return con.execute(f"""
            SELECT count(*) FROM ({rows.format(db="pipeline")}) a FULL JOIN ({rows.format(db="floor")}) b ON {same_cell}
            WHERE a.metric_id IS NULL OR b.metric_id IS NULL OR a.suppressed IS DISTINCT FROM b.suppressed
               OR NOT ({same_figures})""").fetchone()[0]


if __name__ == "__main__":
    floor(load_settings(os.environ))
