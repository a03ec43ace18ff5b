"""Ingest: one asset per extract of the contract (raw.<source>__<extract>), all made by one step
on one warehouse connection. The assets stay one per extract, so lineage, metadata and selection
are per extract; the step loads only those selected."""

from collections import Counter

import dagster as dg

from bps_pipeline.alerts.channels import Alert, send_alert
from bps_pipeline.config import load_settings
from bps_pipeline.ingest.contract import EXTRACTS, Extract
from bps_pipeline.ingest.landing import ingest_landing

OWNER = "team:data-engineering"
UNRECOGNISED = dg.AssetKey(["raw", "unrecognised_files"])
SNAPSHOT_INDEX = dg.AssetKey(["raw", "snapshot_index"])
DAY_INDEX = dg.AssetKey(["raw", "day_index"])


def raw_key(extract: Extract) -> dg.AssetKey:
    return dg.AssetKey(["raw", extract.key])


def _spec(extract: Extract) -> dg.AssetSpec:
    columns = ", ".join(f"{c.name}{'*' if c.required else ''}" for c in extract.columns)
    return dg.AssetSpec(
        key=raw_key(extract), group_name="ingest", kinds={"duckdb", "csv"}, owners=[OWNER],
        description=f"{extract.description} Loaded from landing/{extract.source}/{extract.name}_YYYYMMDD.csv "
                    f"({extract.kind}); contract columns: {columns}.",
        metadata={"landing_pattern": f"{extract.source}/{extract.name}_YYYYMMDD.csv", "kind": extract.kind})


UNRECOGNISED_SPEC = dg.AssetSpec(
    key=UNRECOGNISED, group_name="ingest", kinds={"csv"}, owners=[OWNER],
    description="Quarantines landing files whose name matches no extract of the contract, so a "
                "misnamed drop is seen and alerted instead of waiting in the landing folder.")

SNAPSHOT_INDEX_SPEC = dg.AssetSpec(
    key=SNAPSHOT_INDEX, group_name="ingest", kinds={"duckdb"}, owners=[OWNER],
    description="raw._snapshots: each snapshot file's rows per school year, extract date and load time, "
                "written with the rows. Staging finds each school year's newest file here, and the models "
                "rebuilt by school year hash its load times, so neither scans a year of nightly snapshots.")

DAY_INDEX_SPEC = dg.AssetSpec(
    key=DAY_INDEX, group_name="ingest", kinds={"duckdb"}, owners=[OWNER],
    description="raw._days: each daily file's rows per day, extract date and load time, written with the "
                "rows. Staging finds each day's newest file and how far a year's data reaches here, so "
                "neither scans every login or sign-in kept.")


@dg.multi_asset(name="ingest", can_subset=True, required_resource_keys={"warehouse_lock"},
                specs=[*(_spec(e) for e in EXTRACTS), UNRECOGNISED_SPEC, SNAPSHOT_INDEX_SPEC, DAY_INDEX_SPEC])
def ingest(context: dg.AssetExecutionContext):
    """Every new or changed landing file into its raw table, checked against the contract."""
    settings = load_settings()
    selected = context.selected_asset_keys
    failed, indexed = [], Counter()
    for load in ingest_landing(settings, context.run.run_id,
                               extracts=[e for e in EXTRACTS if raw_key(e) in selected],
                               strays=UNRECOGNISED in selected):
        key = raw_key(load.extract) if load.extract else UNRECOGNISED
        for change in load.retyped:  # once, on the first ingest after the contract's types changed
            context.log.warning(f"{change}: retyped to the contract's type; the next dbt build is a full one")
        if load.error is not None:
            context.log.error(f"{key.to_user_string()}: {type(load.error).__name__}: {load.error}")
            failed.append(f"{key.to_user_string()} ({load.error})")
            continue
        _report(context, settings, load.results)
        statuses = Counter(r.status for r in load.results)
        if load.extract is not None:
            indexed[load.extract.kind] += statuses["loaded"] + statuses["replaced"]
        yield dg.MaterializeResult(asset_key=key, metadata={
            "files_loaded": statuses["loaded"] + statuses["replaced"],
            "files_quarantined": statuses["quarantined"],
            "rows_loaded": sum(r.rows for r in load.results),
            "files": dg.MetadataValue.json([{"file": r.file, "status": r.status, "rows": r.rows,
                                             "encoding": r.encoding, "drift": r.drift, "reason": r.reason}
                                            for r in load.results]),
        })
    # the indexes are written with each extract's rows, so also before a failure
    if SNAPSHOT_INDEX in selected:
        yield dg.MaterializeResult(asset_key=SNAPSHOT_INDEX, metadata={"snapshot_files_indexed": indexed["snapshot"]})
    if DAY_INDEX in selected:
        yield dg.MaterializeResult(asset_key=DAY_INDEX, metadata={"daily_files_indexed": indexed["daily"]})
    if failed:  # the other extracts loaded; dbt does not run on a warehouse missing a night's files
        raise dg.Failure(f"ingest failed for {len(failed)} extract(s): " + "; ".join(failed))


def _report(context, settings, results) -> None:
    for r in results:
        if r.status == "quarantined":
            context.log.error(f"quarantined {r.reason}")
            send_alert(settings, Alert(
                kind="file_quarantined", key=f"quarantine:{r.file}:{context.run.run_id}",
                title=f"Extract rejected: {r.file}", where=r.file, observed=r.reason,
                details={"quarantine_dir": str(settings.quarantine_dir), "run_id": context.run.run_id}))
        elif r.drift:
            context.log.warning(f"{r.file}: extra columns kept out of the warehouse: {', '.join(r.drift)}")
