"""One ingest asset per extract of the contract: raw.<source>__<extract>."""


from collections import Counter

import dagster as dg

from bps_pipeline.alerts import Alert, send_alert
from bps_pipeline.config import load_settings
from bps_pipeline.ingest import ingest_extract, ingest_unknown
from bps_pipeline.ingest.contract import EXTRACTS, Extract

OWNER = "team:data-engineering"


def _ingest_asset(extract: Extract) -> dg.AssetsDefinition:
    columns = ", ".join(f"{c.name}{'*' if c.required else ''}" for c in extract.columns)

    @dg.asset(
        key=dg.AssetKey(["raw", extract.key]),
        group_name="ingest",
        kinds={"duckdb", "csv"},
        owners=[OWNER],
        description=f"{extract.description} Loaded from landing/{extract.source}/{extract.name}_YYYYMMDD.csv "
                    f"({extract.kind}); contract columns: {columns}.",
        metadata={"landing_pattern": f"{extract.source}/{extract.name}_YYYYMMDD.csv", "kind": extract.kind},
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings = load_settings()
        results = ingest_extract(settings, extract, context.run.run_id)
        statuses = Counter(r.status for r in results)
        _report(context, settings, results)
        return dg.MaterializeResult(metadata={
            "files_loaded": statuses["loaded"] + statuses["replaced"],
            "files_quarantined": statuses["quarantined"],
            "rows_loaded": sum(r.rows for r in results),
            "files": dg.MetadataValue.json([{"file": r.file, "status": r.status, "rows": r.rows,
                                             "encoding": r.encoding, "drift": r.drift, "reason": r.reason}
                                            for r in results]),
        })

    return _asset


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


@dg.asset(key=dg.AssetKey(["raw", "unrecognised_files"]), group_name="ingest", kinds={"csv"}, owners=[OWNER],
          description="Quarantines landing files whose name matches no extract of the contract, so a "
                      "misnamed drop is seen and alerted instead of waiting in the landing folder.")
def unrecognised_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    results = ingest_unknown(settings, context.run.run_id)
    _report(context, settings, results)
    return dg.MaterializeResult(metadata={"files_quarantined": len(results)})


ingest_assets = [_ingest_asset(e) for e in EXTRACTS] + [unrecognised_files]
