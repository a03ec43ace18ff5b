"""dbt models as Dagster assets (dagster-dbt); dbt tests arrive as asset checks.

Sources map onto the ingest assets through each source's meta.dagster.asset_key, so the graph is
one piece: raw.* -> staging -> intermediate -> marts -> publish.
"""


import importlib.metadata
import json
import os
import re
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError
from packaging import version
from pydantic import PrivateAttr

from bps_pipeline.catalog import metric_catalog
from bps_pipeline.config import DBT_EXECUTABLE, load_settings
from bps_pipeline.defs.dbt_project import dbt_project, ensure_manifest
from bps_pipeline.quality.gate import import_gx_in_background
from bps_pipeline.transform import build_failure, code_changes, standing, warm_dbt
from bps_pipeline.warehouse import connect, dbt_env

OWNER = "team:data-engineering"
DAGSTER_DBT_ERRORS = "Errors parsed from dbt logs:"  # dagster-dbt's heading before dbt's messages
DBT_RUN_FOLDERS_KEPT = 30  # per-build dbt folders (run_results.json, dbt.log) kept in <data>/dbt_runs


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
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    """dbt build: seeds, models and their tests, in one dbt invocation; in full after a change of
    code (code_changes), and leaving the views and seeds standing when this code made them (standing)."""
    settings = load_settings()
    os.environ.update(dbt_env(settings))
    # dbt unit tests run in CI (pytest), not against production data every night
    args = ["build", "--exclude", "test_type:unit"]
    if config.as_of_date:
        args += ["--vars", json.dumps({"as_of_date": config.as_of_date})]
    manifest = json.loads(ensure_manifest(any_profile=True).read_text())
    code = code_changes.code_parts(manifest, dbt_env(settings))
    relations = standing.standing_relations(manifest)
    reason, left_standing = plan_build(config, code, relations, settings, whole=not context.is_subset)
    if reason:
        args.append("--full-refresh")
        context.log.info(f"dbt build --full-refresh: {reason}")
        with connect(settings) as con:
            code_changes.note_full_build_start(con, context.run.run_id, reason, config.as_of_date)
    elif left_standing:
        args += standing.LEAVE_STANDING_ARGS
        context.log.info(f"dbt build: {len(relations)} views and seeds left standing (made by this code)")
    import_gx_in_background()  # the gate follows this step; dbt's start-up leaves a core idle
    prune_dbt_run_folders(settings.dbt_runs_dir, keep=DBT_RUN_FOLDERS_KEPT - 1)  # this build's makes the count
    target_path = settings.dbt_runs_dir / context.run.run_id
    try:
        yield from dbt.cli(args, context=context, target_path=target_path).stream()
    except DagsterDbtCliRuntimeError as err:  # its message names neither the node nor the reason
        raise dg.Failure(description=build_failure.why_the_build_failed(target_path, dbt_messages(err)),
                         metadata={"dbt_folder": str(target_path)}) from err
    if not context.is_subset:  # a partial build leaves other models as the earlier code made them
        with connect(settings) as con:
            code_changes.record_build(con, context.run.run_id, code, reason)
            if not config.as_of_date and not left_standing:  # an as-of build's views filter on its date
                standing.stamp(con, relations, code)


def dbt_messages(err: DagsterDbtCliRuntimeError) -> list[str]:
    """dbt's exit code and its own error messages, from dagster-dbt's description: its paragraphs
    (the command, the exit code and where the log is), then, when dbt logged errors, "Errors parsed
    from dbt logs:" and one paragraph per message. A description of another shape, whole."""
    description = err.description or ""
    head, found, messages = description.partition(f"\n\n{DAGSTER_DBT_ERRORS}\n\n")
    if not head.startswith("The dbt CLI process"):
        return [description]
    code = re.search(r"exit code `(-?\d+)`", head)
    return ([f"it exited with code {code[1]}"] if code else []) + (messages.split("\n\n") if found else [])


def plan_build(config: DbtBuildConfig, code: dict[str, str], relations: list, settings,
               whole: bool) -> tuple[str | None, bool]:
    """Why this build rebuilds every incremental model whole (None for a daily build), and whether
    a daily build of the whole project leaves the views and seeds standing: one read of the warehouse."""
    if config.full_refresh:
        return "asked for (the weekly full refresh, or --full-refresh)", False
    if config.as_of_date:  # the tables hold later days, which an as-of build must not keep
        return f"figures as of {config.as_of_date}", False
    if not settings.warehouse_path.exists():  # a dbt step run on its own before any ingest
        return code_changes.NO_RECORD, False
    with connect(settings, read_only=True) as con:
        reason = code_changes.full_refresh_reason(con, code)
        return reason, not reason and whole and standing.still_standing(con, relations, code)


def prune_dbt_run_folders(root: Path, keep: int) -> int:
    """Delete all but the newest `keep` build folders under root; returns how many went.

    Each build writes its artifacts and debug log to a folder of its own (about 6 MB at 4x), so
    a failed night can be read the next morning; one per night would otherwise grow without end.
    They live with the data, not in the dbt project, whose folder may be read-only in deployment."""
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


class VenvDbtCliResource(DbtCliResource):
    """DbtCliResource without three start-up costs (measured on 2 cores).

    - dagster-dbt runs `dbt --version` before every build to learn the version (a process start,
      about 4 s). The executable is this venv's, so its version is the installed dbt-core's.
    - It also loads a dbt adapter and its macros in this process (about 2 s), used only to fetch
      row counts and column metadata, which these assets do not ask for.
    - Each build's `bps-dbt` imports dbt first (about 3 s of one core), and dbt's first command in
      a process costs about 1.8 s more than later ones. A run's set-up starts a dbt process that
      imports dbt and runs a throwaway parse while ingest runs, and the build's `bps-dbt` hands
      itself over.
    tests/test_definitions.py checks the first two against the real executable and a real build;
    tests/test_warm_dbt.py and tests/test_pipeline.py the third."""

    _warm: warm_dbt.WarmDbt | None = PrivateAttr(default=None)

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        return None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Start dbt now, before ingest, so the build finds it imported (warm_dbt)."""
        super().setup_for_execution(context)
        try:
            self._warm = warm_dbt.start()
        except OSError as err:  # only slower: the build's bps-dbt imports dbt itself
            if context.log:
                context.log.warning(f"could not start dbt before ingest: {err}")
            return

    def cli(self, args, **kwargs):
        """The build's command, told where the early dbt process waits and that it is the
        pipeline's (not dbt by hand, code_changes.builds_by_hand). Only this `bps-dbt` gets them
        (dagster-dbt copies os.environ when it starts the process), so no other dbt in the run - a
        `dbt parse` of a changed project, say - can take the early process."""
        told = {code_changes.PIPELINE_ENV: "1"}
        if self._warm is not None:
            told[warm_dbt.SOCKET_ENV] = str(self._warm.socket_path)
        os.environ.update(told)
        try:
            return super().cli(args, **kwargs)
        finally:
            for name in told:
                os.environ.pop(name, None)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warm is None:
            return
        served = self._warm.stop()
        if context.log:
            context.log.info("dbt ran in the process started before ingest" if served
                              else "the dbt process started before ingest was not used")
        self._warm = None


dbt_resource = VenvDbtCliResource(project_dir=dbt_project, global_config_flags=["--no-use-colors"],
                                  dbt_executable=str(DBT_EXECUTABLE))
