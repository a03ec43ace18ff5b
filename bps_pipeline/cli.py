"""The `bps-pipeline` command.

Exit codes: 0 success (for `run`: published), 1 the gate failed or nothing was published,
2 bad usage or configuration. Expected failures print one readable line and where to look.
"""

from __future__ import annotations

import argparse
import os
from contextlib import redirect_stdout
import sys
import time
from datetime import date
from pathlib import Path
from typing import NoReturn

from bps_pipeline.config import ConfigError, Settings, load_settings
from bps_pipeline.dagster_home import prepare_dagster_home

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _past_date(text: str) -> date:
    """A date that has happened: figures as of tomorrow would be today's, mislabelled."""
    day = _date(text)
    if day > date.today():
        raise argparse.ArgumentTypeError(f"{text} is in the future (today is {date.today()})")
    return day


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (argparse prints the usage block first)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------


def cmd_generate(args, settings: Settings) -> int:
    from bps_pipeline.generate.district import GenerateOptions, generate

    out = args.out or settings.landing_dir
    _say(f"generating a district of {args.students:,} students (seed {args.seed}, as of {args.as_of}) into {out}")
    try:
        rows = generate(GenerateOptions(out=out, students=args.students, seed=args.seed, as_of=args.as_of,
                                        night_only=args.night_only, progress=_say))
    except ValueError as err:
        raise UsageError(str(err)) from None
    print(f"wrote {len(rows)} files, {sum(rows.values()):,} rows, to {out}")
    return EXIT_OK


def run_pipeline(settings: Settings, as_of: str | None = None, full_refresh: bool = False, job_name: str = "pipeline"):
    """Execute a job in this process (the in-process executor); alert on what failed; return
    Dagster's result."""
    prepare_dagster_home(settings)
    from dagster import DagsterInstance

    from bps_pipeline.alerts.events import alert_on_result
    from bps_pipeline.definitions import defs

    ops = {"quality_gate": {"config": {"as_of_date": as_of}},
           "published__published_duckdb": {"config": {"as_of_date": as_of}}}
    if job_name == "pipeline":
        ops["dbt_models"] = {"config": {"as_of_date": as_of, "full_refresh": full_refresh}}
    run_config = {"ops": ops, "loggers": {"console": {"config": {"log_level": settings.log_level}}}}
    job = defs.resolve_job_def(job_name)
    # dagster-dbt echoes every dbt event on stdout; the command's own output stays the summary
    settings.run_output_path.parent.mkdir(parents=True, exist_ok=True)
    with DagsterInstance.get() as instance, open(settings.run_output_path, "w") as echoed, redirect_stdout(echoed):
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
    alert_on_result(settings, result)
    if job_name == "pipeline":
        from bps_pipeline.status import alert_stale_sources

        alert_stale_sources(settings)
    return result


def was_published(result) -> bool:
    return any(e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key
               and e.asset_key.path == ["published", "published_duckdb"] for e in result.all_events)


def _as_of(args, settings: Settings) -> str | None:
    """The run's as-of date, checked against the extracts: one before every extract has no figures."""
    if not args.as_of:
        return None
    from bps_pipeline.ingest.loader import scan_landing

    dates = [f.extract_date for f in scan_landing(settings.landing_dir) if f.extract_date]
    if settings.warehouse_path.exists():
        from bps_pipeline.warehouse import connect

        with connect(settings, read_only=True) as con:
            dates += [d for (d,) in con.execute("SELECT min(extract_date) FROM raw._load_log").fetchall() if d]
    if dates and args.as_of < min(dates):
        raise UsageError(f"--as-of {args.as_of} is before every extract (the earliest is dated {min(dates)})")
    return args.as_of.isoformat()


def cmd_run(args, settings: Settings) -> int:
    if not any(settings.landing_dir.glob("*/*.csv")):
        raise UsageError(f"no extracts in {settings.landing_dir}; run `bps-pipeline generate` or set BPS_LANDING_DIR")
    as_of = _as_of(args, settings)
    started = time.monotonic()
    _say(f"running ingest -> dbt -> gate -> publish on {settings.landing_dir}")
    result = run_pipeline(settings, as_of=as_of, full_refresh=args.full_refresh)
    published = was_published(result)
    from bps_pipeline.summary import print_summary

    print_summary(settings, result, published, time.monotonic() - started)
    return EXIT_OK if published else EXIT_FAILED


def cmd_publish(args, settings: Settings) -> int:
    _require_warehouse(settings)
    result = run_pipeline(settings, as_of=_as_of(args, settings), job_name="publish")
    published = was_published(result)
    _report_checks(result)
    print(f"{'published' if published else 'NOT published'}: {settings.published_path}")
    return EXIT_OK if published else EXIT_FAILED


def cmd_report(args, settings: Settings) -> int:
    from bps_pipeline.report.build import build_report

    published = args.published or settings.published_path
    if not published.exists():
        raise UsageError(f"no published file at {published}; run `bps-pipeline run` first")
    report = build_report(published, args.out or settings.report_dir)
    print(f"report of release {report.release}: {report.html} and {report.pdf} ({report.pages} pages)")
    return EXIT_OK


def cmd_validate(args, settings: Settings) -> int:
    from bps_pipeline.quality.gate import run_gate

    _require_warehouse(settings)
    results = run_gate(settings, as_of=_as_of(args, settings))
    for r in results:
        print(f"{r.suite:<28} {r.evaluated:>3} expectations  {r.severity or 'passed'}")
        for f in r.failures:
            print(f"    {f.severity:<5} {f.expectation}({f.column or ''}): {f.observed}")
    from bps_pipeline.quality.checks import PRIVACY_CHECK, privacy_check_result

    privacy = privacy_check_result(settings)
    print(f"{PRIVACY_CHECK:<28} {privacy.metadata['hidden_counts'].value:>3} hidden counts  "
          f"{'passed' if privacy.passed else 'ERROR'}")
    if not privacy.passed:
        print(f"    ERROR {privacy.metadata['observed'].value}")
    if results and results[0].data_docs:
        print(f"data docs: {results[0].data_docs}")
    failed = any(r.severity == "ERROR" for r in results) or not privacy.passed
    return EXIT_FAILED if failed else EXIT_OK


def cmd_status(args, settings: Settings) -> int:
    from bps_pipeline.status import last_publish, quarantined_files, source_status

    print(f"{'source/extract':<36}{'newest':>12}{'files':>7}{'rows':>12}{'age':>6}  state")
    for s in source_status(settings):
        age = "-" if s.age_days is None else f"{s.age_days}d"
        state = "STALE" if s.stale else "ok"
        print(f"{s.extract:<36}{str(s.newest or '-'):>12}{s.files:>7}{s.rows:>12,}{age:>6}  {state}")
    pub = last_publish(settings)
    if pub:
        print(f"\nlast publish: {pub['published_at']} (run {pub['run_id'][:8]}), checks {pub['checks_passed']}/"
              f"{pub['checks_run']} passed, {pub['publishes']} publishes logged -> {settings.published_path}")
    else:
        print(f"\nnothing published yet ({settings.published_path})")
    from bps_pipeline.transform.full_refresh import current_code, full_refresh_reason, recorded_build
    from bps_pipeline.warehouse import connect

    built = pending = None
    if settings.warehouse_path.exists():
        with connect(settings, read_only=True) as con:
            built = recorded_build(con)  # what the dbt step will compare with
            pending = full_refresh_reason(con, current_code(settings))
    if built:
        print(f"\nlast dbt build: {built.finished_at:%Y-%m-%d %H:%M} UTC (run {built.run_id[:8]})"
              + (f", full refresh: {built.full_refresh_reason}" if built.full_refresh_reason else ""))
    if pending:
        print(f"the next daily build rebuilds in full: {pending}")
    q = quarantined_files(settings)
    print(f"\nquarantined files: {len(q)}" + (f" (in {settings.quarantine_dir})" if q else ""))
    for name, reason in q:
        print(f"  {name}: {reason}")
    return EXIT_OK


def cmd_backfill(args, settings: Settings) -> int:
    """Publish the figures as of each extract date in a range, oldest first, then return to the
    newest data; each publish lands in publish_log and metric_values_history."""
    _require_warehouse(settings)
    if args.start > args.end:
        raise UsageError(f"--from {args.start} is after --to {args.end}")
    from bps_pipeline.warehouse import connect

    with connect(settings, read_only=True) as con:
        dates = [r[0] for r in con.execute(
            "SELECT DISTINCT extract_date FROM raw._load_log WHERE extract_date BETWEEN ? AND ? ORDER BY 1",
            [args.start, args.end]).fetchall()]
    if not dates:
        raise UsageError(f"no extracts dated {args.start} to {args.end} in the load log")
    failed = []
    for i, d in enumerate(dates, 1):
        _say(f"[{i}/{len(dates)}] as of {d}")
        result = run_pipeline(settings, as_of=d.isoformat())
        if not was_published(result):
            failed.append(d)
            _say(f"  not published as of {d} (see `bps-pipeline status` and the alert log)")
    _say("rebuilding the current figures")
    current = run_pipeline(settings)
    print(f"backfilled {len(dates) - len(failed)} of {len(dates)} extract dates; "
          f"history in marts.metric_values_history of {settings.published_path}")
    return EXIT_OK if not failed and was_published(current) else EXIT_FAILED


def cmd_dev(args, settings: Settings) -> int:
    """`dagster dev` on loopback with this project's DAGSTER_HOME (schedules and sensors on)."""
    import signal

    home = prepare_dagster_home(settings)
    exe = Path(sys.executable).with_name("dagster")
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _say(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home})")
    os.execv(str(exe), [str(exe), "dev", "-w", str(workspace), "-h", args.host, "-p", str(args.port)])
    return EXIT_OK


def cmd_dbt(args, settings: Settings) -> int:
    """dbt by hand, on the pipeline's warehouse and settings (the profile has no defaults of its
    own). A command that writes models is noted by the project's on-run-start hook, and the
    pipeline's next build then rebuilds in full (transform/full_refresh.py)."""
    from bps_pipeline.warehouse import dbt_command, dbt_env

    command = dbt_command(*args.dbt_args)
    os.execve(command[0], command, {**os.environ, **dbt_env(settings)})
    return EXIT_OK


def _require_warehouse(settings: Settings) -> None:
    if not settings.warehouse_path.exists():
        raise UsageError(f"no warehouse at {settings.warehouse_path}; run `bps-pipeline run` first")


def _report_checks(result) -> None:
    """The failed checks and steps of a run, a line each (the run's summary says the same)."""
    from bps_pipeline.alerts.events import failure_reason, run_failure_reason

    for e in result.all_events:
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed:
            ev = e.event_specific_data
            print(f"check failed: {ev.asset_key.to_user_string()} / {ev.check_name} ({ev.severity.value})")
        elif e.event_type_value == "STEP_FAILURE":
            print(f"step failed: {e.step_key}: {failure_reason(e)}")
    if not result.success and not any(e.event_type_value == "STEP_FAILURE" for e in result.all_events):
        print(f"run failed: {run_failure_reason(result)}")


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bps-pipeline", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="write the sample district's extracts into a landing folder",
                       description="Write every extract of the sample district (design/extracts.md) "
                                   "in the landing layout. Deterministic for a seed.")
    g.add_argument("--out", type=Path, help="landing folder (default: $BPS_LANDING_DIR)")
    g.add_argument("--students", type=_positive, default=56_340, help="district size (default 56,340)")
    g.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    g.add_argument("--as-of", type=_date, default=date(2020, 12, 7), help="extract date, YYYY-MM-DD (default 2020-12-07)")
    g.add_argument("--night-only", action="store_true",
                   help="write only the files dated --as-of: one night's delivery, to drop into a landing "
                        "folder that holds the district as of an earlier day")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", help="run the whole pipeline in one process: ingest, dbt, gate, publish",
                       description="Ingest new landing files, build every model, run the quality gate and, "
                                   "if every blocking check passes, publish. Exit 0 published, 1 not published.")
    r.add_argument("--as-of", type=_past_date, help="publish the figures as of an earlier extract date")
    r.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="run the quality gate on the marts without publishing",
                       description="Run every Great Expectations suite on the warehouse marts and print the "
                                   "results. Exit 0 when no ERROR expectation failed, 1 otherwise.")
    v.add_argument("--as-of", type=_past_date, help="the as-of date the marts were built for")
    v.set_defaults(func=cmd_validate)

    pb = sub.add_parser("publish", help="run the quality gate and, if it passes, publish the marts as they are",
                        description="Gate and publish the marts already in the warehouse (no ingest, no dbt). "
                                    "Exit 0 published, 1 not published.")
    pb.add_argument("--as-of", type=_past_date, help="the as-of date the marts were built for")
    pb.set_defaults(func=cmd_publish)

    rp = sub.add_parser("report", help="render the progress report (HTML and PDF) from the published file",
                        description="Render report.html and report.pdf from the published marts only (the same "
                                    "file gives the same bytes). The pipeline does this after each publish.")
    rp.add_argument("--published", type=Path, help="a published.duckdb (default: the current release)")
    rp.add_argument("--out", type=Path, help="the folder to write into (default: BPS_DATA_DIR/report)")
    rp.set_defaults(func=cmd_report)

    st = sub.add_parser("status", help="per source: newest extract, rows, staleness; last publish; quarantined files",
                        description="Answer 'what is the state of the data?' from the load log, the published "
                                    "file and the quarantine folder. Read-only.")
    st.set_defaults(func=cmd_status)

    b = sub.add_parser("backfill", help="publish the figures as of every extract date in a range",
                       description="For each extract date loaded between --from and --to, rebuild and publish the "
                                   "figures as of that date (kept in marts.metric_values_history), then rebuild "
                                   "the current figures. Exit 0 when every date published.")
    b.add_argument("--from", dest="start", type=_past_date, required=True, help="first extract date, YYYY-MM-DD")
    b.add_argument("--to", dest="end", type=_past_date, required=True, help="last extract date, YYYY-MM-DD")
    b.set_defaults(func=cmd_backfill)

    t = sub.add_parser("dbt", help="run dbt by hand on the pipeline's warehouse (e.g. `dbt -- ls --select marts`)",
                       description="Run a dbt command on this project with the pipeline's profile settings. "
                                   "A command that builds models makes the pipeline's next build a full one.")
    t.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's own arguments")
    t.set_defaults(func=cmd_dbt)

    d = sub.add_parser("dev", help="start the Dagster UI (dagster dev) on 127.0.0.1",
                       description="Start `dagster dev` with this project's workspace and DAGSTER_HOME; schedules "
                                   "and sensors run while it is up.")
    d.add_argument("--host", default="127.0.0.1")
    d.add_argument("--port", type=_positive, default=3000)
    d.set_defaults(func=cmd_dev)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return EXIT_USAGE if exit_.code not in (0, None) else EXIT_OK
    try:
        settings = load_settings()
        return args.func(args, settings)
    except (ConfigError, UsageError) as err:
        _say(f"bps-pipeline {args.command}: {err}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_FAILED
    except BrokenPipeError:  # `bps-pipeline status | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as err:  # expected operational failures: one line and where to look
        import duckdb

        if isinstance(err, duckdb.IOException) and "lock" in str(err).lower():
            _say(f"bps-pipeline {args.command}: the warehouse is in use by another process "
                 f"({settings.warehouse_path}); wait for the running pipeline to finish")
            return EXIT_FAILED
        if os.environ.get("BPS_DEBUG"):
            raise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        _say(f"bps-pipeline {args.command}: {type(err).__name__}: {first} (set BPS_DEBUG=1 for the traceback; "
             f"Dagster's logs are under {settings.dagster_home})")
        return EXIT_FAILED


def entry() -> NoReturn:
    """The `bps-pipeline` command."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
