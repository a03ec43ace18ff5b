"""dbt models as Dagster assets (dagster-dbt); dbt tests arrive as asset checks.

Sources map onto the ingest assets through each source's meta.dagster.asset_key, so the graph is
one piece: raw.* -> staging -> intermediate -> marts -> publish.
"""

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from bps_pipeline.catalog import metric_catalog
from bps_pipeline.config import DBT_EXECUTABLE, Settings, load_settings
from bps_pipeline.transform import build_failure, full_refresh
from bps_pipeline.transform.project import dbt_project, ensure_manifest
from bps_pipeline.warehouse import connect, dbt_env
from bps_pipeline.warehouse_lock import WarehouseLock

OWNER = "team:data-engineering"
DAGSTER_DBT_ERRORS = "Errors parsed from dbt logs:"  # dagster-dbt's heading before dbt's messages
DBT_RUN_FOLDERS_KEPT = 30  # per-build folders (run_results.json, dbt.log) kept in <data>/dbt_runs


class BpsTranslator(DagsterDbtTranslator):
    """Groups: staging, intermediate, one group per commitment for the metric models, marts."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest.get("nodes", {}).get(unique_id)
        if node is None:  # a source: keep the ingest asset's key and group
            return spec
        name, fqn = node["name"], node.get("fqn", [])
        if name.startswith("int_metric__"):
            metric = name.removeprefix("int_metric__").removesuffix("_by_day")
            group = f"commitment_{metric_catalog().get(metric, {}).get('commitment', 0)}"
        elif node["resource_type"] == "seed":
            group = "reference"
        else:
            group = fqn[1] if len(fqn) > 2 else "dbt"
        return spec.replace_attributes(group_name=group, owners=[OWNER])


translator = BpsTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(dg.Config):
    as_of_date: str | None = None  # rebuild the figures as of an earlier extract date (YYYY-MM-DD)
    full_refresh: bool = False


@dbt_assets(manifest=ensure_manifest(), project=dbt_project, dagster_dbt_translator=translator)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse_lock: WarehouseLock,
               config: DbtBuildConfig):
    """dbt build: seeds, models and their tests in one invocation; in full when full_refresh says so."""
    settings = load_settings()
    # dbt unit tests run in CI (pytest), not against production data every night
    args = ["build", "--exclude", "test_type:unit"]
    if config.as_of_date:
        args += ["--vars", json.dumps({"as_of_date": config.as_of_date})]
    code = full_refresh.code_parts(json.loads(ensure_manifest().read_text()), dbt_env(settings))
    reason = full_refresh_reason(config, code, settings)
    if reason:
        args.append("--full-refresh")
        context.log.info(f"dbt build --full-refresh: {reason}")
        with connect(settings) as con:
            full_refresh.note_full_build_start(con, context.run.run_id, reason, config.as_of_date)
    prune_dbt_run_folders(settings.dbt_runs_dir, keep=DBT_RUN_FOLDERS_KEPT - 1)  # this build's makes the count
    target_path = settings.dbt_runs_dir / context.run.run_id
    # dagster-dbt passes this process's environment to dbt: the profile's settings, and the run id
    # the on-run-start hook records (an invocation without one is dbt by hand)
    os.environ.update({**dbt_env(settings), full_refresh.DAGSTER_RUN_ENV: context.run.run_id})
    try:
        yield from dbt.cli(args, context=context, target_path=target_path).stream()
    except DagsterDbtCliRuntimeError as err:  # its message names neither the node nor the reason
        raise dg.Failure(description=build_failure.why_the_build_failed(target_path, dbt_messages(err)),
                         metadata={"dbt_folder": str(target_path)}) from err
    finally:
        os.environ.pop(full_refresh.DAGSTER_RUN_ENV, None)
    if not context.is_subset:  # a partial build leaves other models as the earlier code made them
        with connect(settings) as con:
            full_refresh.record_build(con, context.run.run_id, code, reason)


def full_refresh_reason(config: DbtBuildConfig, code: dict[str, str], settings: Settings) -> str | None:
    """Why this build rebuilds every incremental model whole; None for a daily build."""
    if config.full_refresh:
        return "asked for (the weekly full refresh, or --full-refresh)"
    if config.as_of_date:  # the tables hold later days, which an as-of build must not keep
        return f"figures as of {config.as_of_date}"
    if not settings.warehouse_path.exists():
        return full_refresh.NO_RECORD
    with connect(settings, read_only=True) as con:
        return full_refresh.full_refresh_reason(con, code)


def dbt_messages(err: DagsterDbtCliRuntimeError) -> list[str]:
    """dbt's exit code and its own error messages, from dagster-dbt's description (the command,
    the exit code and the log, then "Errors parsed from dbt logs:" and one paragraph per message);
    a description of another shape, whole."""
    description = err.description or ""
    head, found, messages = description.partition(f"\n\n{DAGSTER_DBT_ERRORS}\n\n")
    if not head.startswith("The dbt CLI process"):
        return [description]
    code = re.search(r"exit code `(-?\d+)`", head)
    return ([f"it exited with code {code[1]}"] if code else []) + (messages.split("\n\n") if found else [])


def prune_dbt_run_folders(root: Path, keep: int) -> int:
    """Delete all but the newest `keep` build folders; returns how many went. They are kept so a
    failed night can be read the next morning, in the data folder (the project may be read-only)."""
    if not root.is_dir():
        return 0
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for p in folders[keep:]:
        shutil.rmtree(p, ignore_errors=True)
    return len(folders[keep:])


def published_mart_keys() -> list[dg.AssetKey]:
    """The marts that publish copies: every dbt model in models/marts (one home: the dbt tree)."""
    manifest = json.loads(ensure_manifest().read_text())
    return sorted(
        (translator.get_asset_spec(manifest, uid, dbt_project).key
         for uid, node in manifest["nodes"].items()
         if node["resource_type"] == "model" and node["fqn"][1] == "marts"),
        key=lambda k: k.to_user_string())


dbt_resource = DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE),
                              global_config_flags=["--no-use-colors"])
