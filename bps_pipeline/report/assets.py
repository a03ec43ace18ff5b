"""The progress report as an asset downstream of the publish: rebuilt from each new release."""

import dagster as dg

from bps_pipeline.config import load_settings
from bps_pipeline.jobs import PUBLISHED
from bps_pipeline.report.build import build_report


@dg.asset(
    key=dg.AssetKey(["published", "progress_report"]),
    deps=[PUBLISHED],
    group_name="publish",
    kinds={"html", "pdf"},
    owners=["team:data-engineering"],
    description="The district's progress report (report.html, report.pdf) rendered from the published marts "
                "only; the same published file gives the same bytes.",
)
def progress_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    settings = load_settings()
    report = build_report(settings.published_path, settings.report_dir)
    context.log.info(f"report of release {report.release}: {report.pages} PDF pages")
    return dg.MaterializeResult(metadata={
        "html": dg.MetadataValue.path(str(report.html)), "pdf": dg.MetadataValue.path(str(report.pdf)),
        "release": report.release, "pdf_pages": report.pages})
