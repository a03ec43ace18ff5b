"""The dbt project as Dagster sees it, and the manifest the definitions are built from.

No relative imports here: `dagster-dbt project prepare-and-package --file` can load this module.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from bps_pipeline.config import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

PROJECT_FOLDERS = ("models", "macros", "seeds", "tests")


def _newest_source_mtime() -> float:
    paths = [p for d in PROJECT_FOLDERS for p in (DBT_PROJECT_DIR / d).rglob("*") if p.is_file()]
    paths.append(DBT_PROJECT_DIR / "dbt_project.yml")
    return max(p.stat().st_mtime for p in paths)


def ensure_manifest() -> Path:
    """The manifest, parsed again (`dbt parse`) when it is missing or older than a project file:
    the assets, checks and the full-refresh record are built from it, never from a stale one."""
    from bps_pipeline.config import load_settings
    from bps_pipeline.warehouse import dbt_command, dbt_env

    manifest = Path(dbt_project.manifest_path)
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
        return manifest
    env = {**os.environ, **dbt_env(load_settings())}
    proc = subprocess.run(dbt_command("parse", "--quiet"), env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return manifest
