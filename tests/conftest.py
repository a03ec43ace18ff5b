"""Shared fixtures: small generated districts and one real pipeline run, built once per session.

Tests point the pipeline at temporary folders through the same environment variables a
deployment uses (BPS_DATA_DIR, BPS_LANDING_DIR); nothing touches the project's data/ folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bps_pipeline.config import load_settings
from bps_pipeline.generate.district import GenerateOptions, generate

SMALL = 1500  # students: enough for every school type, fast enough for CI
# Tests that need a whole pipeline run or a larger district are the slow tier (`make test` runs
# both tiers; `make test-fast` only the fast one, for edit loops); others mark themselves slow.
SLOW_FIXTURES = {"pipeline_run", "district_5000"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def run_dbt(settings, *args, warehouse: Path | None = None) -> subprocess.CompletedProcess:
    """dbt as the pipeline runs it (its command and environment), on the settings' warehouse or another."""
    from bps_pipeline.warehouse import dbt_command, dbt_env

    env = {**os.environ, **dbt_env(settings)}
    if warehouse:
        env["BPS_WAREHOUSE_PATH"] = str(warehouse)
    return subprocess.run(dbt_command(*args), env=env, capture_output=True, text=True)


def ingest(settings, load_id: str, *extracts, strays: bool = False) -> list:
    """The pipeline's ingest (ingest_landing) for the given extracts and, if asked, the files that
    match no extract; every file's result in one list. Raises what an extract's load raised."""
    from bps_pipeline.ingest.landing import ingest_landing

    results = []
    for load in ingest_landing(settings, load_id, extracts, strays=strays):
        if load.error:
            raise load.error
        results += load.results
    return results


@pytest.fixture(scope="session")
def district_5000(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("district_5000") / "landing"
    generate(GenerateOptions(out=out, students=5000, seed=7))
    return out


@pytest.fixture(scope="session")
def small_district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small_district") / "landing"
    generate(GenerateOptions(out=out, students=SMALL, seed=11))
    return out


def use_folders(monkeypatch, data_dir: Path, landing_dir: Path, **extra: str):
    monkeypatch.setenv("BPS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("BPS_LANDING_DIR", str(landing_dir))
    for k, v in extra.items():
        monkeypatch.setenv(k, v)
    return load_settings()


@pytest.fixture
def settings(tmp_path, monkeypatch, small_district):
    """Settings on a fresh data folder with a private copy of the small district's landing files."""
    landing = tmp_path / "landing"
    shutil.copytree(small_district, landing)
    return use_folders(monkeypatch, tmp_path / "data", landing)


def plant_old_dbt_run_folders(root: Path) -> None:
    """A month of earlier builds' folders, oldest first, so the run must prune one."""
    import os

    from bps_pipeline.transform.assets import DBT_RUN_FOLDERS_KEPT

    for i in range(DBT_RUN_FOLDERS_KEPT):
        folder = root / f"old-{i:02d}"
        folder.mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        stamp = 1_600_000_000 + i * 86400
        os.utime(folder, (stamp, stamp))


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, small_district):
    """One real run of the whole pipeline (Dagster in process, dbt, gate, publish)."""
    from bps_pipeline.cli import run_pipeline

    root = tmp_path_factory.mktemp("pipeline")
    shutil.copytree(small_district, root / "landing")
    # a misnamed drop: quarantined and alerted, without stopping the run
    (root / "landing" / "sis" / "studnets_20201207.csv").write_text("local_id\n1\n")
    mp = pytest.MonkeyPatch()
    settings = use_folders(mp, root / "data", root / "landing")
    plant_old_dbt_run_folders(settings.dbt_runs_dir)
    result = run_pipeline(settings)
    yield settings, result
    mp.undo()
