"""The dbt project as Dagster sees it, and the manifest it needs before definitions load.

No relative imports here: `dagster-dbt project prepare-and-package --file` can load this module.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from bps_pipeline.config import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _newest_source_mtime() -> float:
    paths = [p for d in ("models", "macros", "seeds", "tests") for p in (DBT_PROJECT_DIR / d).rglob("*") if p.is_file()]
    paths.append(DBT_PROJECT_DIR / "dbt_project.yml")
    return max(p.stat().st_mtime for p in paths)


def ensure_manifest(any_profile: bool = False) -> Path:
    """Run `dbt parse` when the manifest is missing, older than the project's files, or was parsed
    for another profile. Runs copy its partial-parse file, and dbt parses only partially (about
    5 s less per run) when the profile it was made with is the run's. With any_profile, one
    parsed for another profile will do: the project's code in it is the same."""
    from bps_pipeline.config import load_settings
    from bps_pipeline.warehouse import dbt_command, dbt_env

    manifest = Path(dbt_project.manifest_path)
    env = dbt_env(load_settings())
    stamp = manifest.with_name("profile_env.json")
    if (manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime()
            and (any_profile or (stamp.exists() and json.loads(stamp.read_text()) == env))):
        return manifest
    proc = subprocess.run(dbt_command("parse", "--quiet"), env={**os.environ, **env}, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    stamp.write_text(json.dumps(env))
    return manifest
