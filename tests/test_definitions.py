"""The Dagster code location loads, and its graph is one piece: ingest -> dbt -> publish."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from bps_pipeline.config import DBT_PROJECT_DIR
from bps_pipeline.ingest.contract import EXTRACTS

# what a DuckDB connection was opened with, as one string
DUCKDB_LIMITS = ("current_setting('memory_limit') || '|' || current_setting('threads') || '|' "
                 "|| current_setting('temp_directory')")


def test_sources_yml_matches_the_contract(tmp_path):
    """Every extract of the contract is a source with its columns, and the two other sources are
    ingest's indexes of the files (snapshots, days) with the columns ingest creates them with."""
    import duckdb

    from bps_pipeline.ingest.loader import ensure_raw_schema

    doc = yaml.safe_load((DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml").read_text())
    declared = {(s["name"], t["name"]): [c["name"] for c in t["columns"]] for s in doc["sources"] for t in s["tables"]}
    indexes = {name: declared.pop(("ingest", name)) for name in ("snapshots", "days")}
    assert declared == {(e.source, e.name): [c.name for c in e.columns] for e in EXTRACTS}
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        ensure_raw_schema(con)
        for name, columns in indexes.items():
            assert columns == [r[0] for r in con.execute(f"DESCRIBE raw._{name}").fetchall()]


@pytest.mark.parametrize("macro, kind, column", [("newest_snapshot", "snapshot", "year_column"),
                                                 ("newest_per_day", "daily", "day_column")])
def test_staging_reads_each_extract_by_the_column_ingest_indexes(macro, kind, column):
    """The column staging's newest_snapshot (year_expr) or newest_per_day (day_column) is given and
    the contract's year_column or day_column, which ingest indexes its files by (raw._snapshots,
    raw._days), are the same for every extract of that kind, and every one is read so."""
    import re

    calls = {}
    for sql in (DBT_PROJECT_DIR / "models" / "staging").glob("*.sql"):
        for m in re.finditer(rf"{macro}\('(\w+)', '(\w+)'(?:, '(\w+)')?\)", sql.read_text()):
            calls[(m[1], m[2])] = m[3]
    assert calls == {(e.source, e.name): getattr(e, column) for e in EXTRACTS if e.kind == kind}
    assert kind == "snapshot" or all(calls.values())  # a daily extract is always read by its day


def test_definitions_load_and_form_one_graph():
    from bps_pipeline.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for ex in EXTRACTS:
        assert f"raw/{ex.key}" in keys
    assert {"marts/metric_values", "marts/anchor_goals", "published/published_duckdb"} <= keys
    # every raw table feeds the published file (no island)
    published = dg.AssetKey(["published", "published_duckdb"])
    ancestors = set()
    frontier = [published]
    while frontier:
        key = frontier.pop()
        for parent in graph.get(key).parent_keys:
            if parent not in ancestors:
                ancestors.add(parent)
                frontier.append(parent)
    for ex in EXTRACTS:
        assert dg.AssetKey(["raw", ex.key]) in ancestors, ex.key
    # each index of the files is its own ingest asset, upstream of the views that read it (and of
    # no extract's asset); how far a year's logins reach is read from the day index alone
    index = dg.AssetKey(["raw", "snapshot_index"])
    assert graph.get(dg.AssetKey(["staging", "stg_ingest__snapshots"])).parent_keys == {index}
    days = dg.AssetKey(["raw", "day_index"])
    assert graph.get(dg.AssetKey(["staging", "stg_online__activity_through"])).parent_keys == {days}
    assert graph.get(dg.AssetKey(["staging", "stg_online__activity"])).parent_keys == {
        days, dg.AssetKey(["raw", "online__activity"])}
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"ingest", "staging", "intermediate", "marts", "publish", "commitment_1", "commitment_6"} <= groups
    assert repo.get_job("pipeline").executor_def.name == "in_process"


def test_metric_catalog_matches_the_design():
    """Decision 6: the catalog seed is checked against design/metrics.md."""
    import re
    from pathlib import Path

    design = Path(__file__).resolve().parents[2] / "shared" / "design" / "metrics.md"
    if not design.exists():
        pytest.skip("../shared/design is not beside this checkout")
    ids = set(re.findall(r"^\| `([a-z_]+)` \|", design.read_text(), flags=re.M))
    from bps_pipeline.catalog import metric_catalog

    assert set(metric_catalog()) == ids


SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.txt"


def definitions_outline() -> str:
    """Every asset (key, group, kinds), check (blocking or not), job, schedule and sensor, one per line."""
    from bps_pipeline.definitions import defs

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    lines = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        lines.append(f"asset {key.to_user_string()} group={node.group_name} kinds={','.join(sorted(node.kinds))}")
    for check in graph.asset_check_keys:
        spec = graph.get_check_spec(check)
        lines.append(f"check {check.asset_key.to_user_string()}:{check.name}{' blocking' if spec.blocking else ''}")
    lines += [f"job {j.name}" for j in repo.get_all_jobs() if not j.name.startswith("__")]
    lines += [f"schedule {s.name} {s.cron_schedule} {s.execution_timezone}" for s in repo.schedule_defs]
    lines += [f"sensor {s.name}" for s in repo.sensor_defs]
    return "\n".join(sorted(lines)) + "\n"


def test_the_definitions_match_their_snapshot():
    """What the code location offers, as the UI and the daemon see it; a change shows in review.
    After a deliberate change: BPS_UPDATE_SNAPSHOTS=1 make test-fast."""
    import os

    outline = definitions_outline()
    if os.environ.get("BPS_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(outline)
    assert outline == SNAPSHOT.read_text()


def test_dbt_opens_duckdb_with_the_pipelines_limits(tmp_path):
    """dbt's DuckDB gets memory_limit, threads and temp_directory from the environment, at connect
    (config_options: DuckDB refuses to move temp_directory once a query has spilled there)."""
    import os
    import subprocess

    from bps_pipeline.warehouse import dbt_command

    duckdb_profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["bps"]["outputs"]["duckdb"]
    assert "temp_directory" in duckdb_profile["config_options"]
    assert "temp_directory" not in (duckdb_profile.get("settings") or {})

    env = {**os.environ, "BPS_WAREHOUSE_PATH": str(tmp_path / "w.duckdb"), "BPS_DUCKDB_MEMORY_LIMIT": "3GB",
           "BPS_DUCKDB_THREADS": "1", "BPS_DUCKDB_TEMP_DIR": str(tmp_path / "spill"), "BPS_MIN_CELL_SIZE": "10",
           "BPS_PRIVACY_PROTECTION_LEVEL": "2",
           "DO_NOT_TRACK": "1"}
    out = subprocess.run(dbt_command("show", "--inline", f"select {DUCKDB_LIMITS} as s", "--output", "json", "--target-path", str(tmp_path / "target"),
                                     "--log-path", str(tmp_path)), env=env, capture_output=True, text=True, check=True).stdout
    assert f"2.7 GiB|1|{tmp_path / 'spill'}" in out


def test_dbt_by_hand_runs_on_the_pipelines_settings(tmp_path):
    """The profile has no defaults of its own (config.py is their one home): `bps-pipeline dbt`
    opens the settings' warehouse with the limits the pipeline's own connections get, plain `dbt`
    says which variable is missing instead of opening some other file, and a setting that cannot
    be used is one line before dbt starts."""
    import os
    import subprocess
    import sys

    from bps_pipeline.config import DBT_EXECUTABLE, load_settings
    from bps_pipeline.warehouse import connect, dbt_env

    bare = {k: v for k, v in os.environ.items() if k not in dbt_env(load_settings())}
    bare.update({"BPS_DATA_DIR": str(tmp_path / "data"), "DO_NOT_TRACK": "1"})
    settings = load_settings(bare)
    settings.warehouse_path.parent.mkdir(parents=True)
    with connect(settings) as con:  # what ingest, the gate and publish get
        (pipelines,) = con.execute(f"select {DUCKDB_LIMITS}").fetchone()
    args = ["show", "--inline", f"select {DUCKDB_LIMITS} as s", "--output", "json",
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)]
    command = [sys.executable, "-m", "bps_pipeline.cli", "dbt"]
    ours = subprocess.run([*command, *args], env=bare, capture_output=True, text=True, timeout=300)
    assert ours.returncode == 0, ours.stdout[-2000:]
    assert f'"s": "{pipelines}"' in ours.stdout, (pipelines, ours.stdout[-2000:])
    assert pipelines.endswith(f"|{settings.tmp_dir / 'duckdb'}")  # the settings' folder, under BPS_DATA_DIR

    plain = subprocess.run([str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR),
                            "--profiles-dir", str(DBT_PROJECT_DIR)], env=bare, capture_output=True, text=True, timeout=300)
    assert plain.returncode != 0
    assert "BPS_" in plain.stdout + plain.stderr and "not provided" in plain.stdout + plain.stderr

    bad = subprocess.run([*command, *args], env={**bare, "BPS_DUCKDB_THREADS": "two"},
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "bps-pipeline dbt: BPS_DUCKDB_THREADS='two' is not a whole number"


def test_constraints_pin_what_pyproject_pins_and_the_venv_holds():
    """constraints.txt (every package, for reproducible installs) agrees with pyproject.toml's own
    pins, so bumping one without the other fails here rather than as a pip conflict that leaves
    an old venv in place; and this venv holds exactly the pinned versions."""
    import importlib.metadata
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    root = DBT_PROJECT_DIR.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    pinned = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = version.strip()
    for spec in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(spec)
        assert canonicalize_name(req.name) in pinned, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pinned[canonicalize_name(req.name)]), (spec, pinned[canonicalize_name(req.name)])
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    drift = {n: (v, installed.get(n)) for n, v in pinned.items() if installed.get(n) != v}
    assert not drift, f"the venv differs from constraints.txt (pinned, installed): {drift}"
