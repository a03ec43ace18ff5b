"""`make bench`: where the time goes, at several district sizes, against the performance targets.

For each scale (x 56,340 students) it generates a district - by default a full school year: SY2021
through its second-last school day, so the next-day run brings the last - and measures, each as its
own process (wall time, and peak resident memory from wait4): each stage alone (ingest, dbt build,
gate, publish), the whole `bps-pipeline run` (with each stage's seconds inside it, from Dagster's
event log, and dbt's slowest nodes), the floor (bench/floor.py) and the next-day run: the next
school day's files dropped in and one nightly run. It checks that the floor computed the figures
the pipeline published, and times the queries a dashboard sends. With --repeat N each repetition
measures a whole run, its floor and its night back to back, so each gives paired ratios (this VM's
speed drifts within the hour). Results print as a table and land as JSON in <data>/bench/.

    python -m bench --scales 0.25 1 4 --repeat 1 [--as-of 2021-06-22]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bench.floor import compile_for_floor, differing_figures, floor_path
from bps_pipeline.config import PROJECT_ROOT, load_settings
from bps_pipeline.generate.district import DEFAULT_STUDENTS, EARLIEST_AS_OF, LATEST_AS_OF
from bps_pipeline.transform.full_refresh import last_build

PY = sys.executable
# At 200 students no school reaches growth_min_students, a metric is empty and the gate blocks the run.
MIN_STUDENTS = 1000
FULL_YEAR_AS_OF = LATEST_AS_OF - timedelta(days=1)
STAGES = ("ingest", "dbt", "gate", "publish")
# (what, the measurement's key, the bound, which scales it applies to)
TARGETS = (
    ("whole run / floor (paired median)", "pipeline_over_floor", 1.3, (4, 16)),
    ("next-day run seconds", "night_seconds", 120, (16,)),
    ("next-day run / whole run (paired median)", "night_over_full", 0.15, (16,)),
    ("peak memory GiB (the pipeline's processes)", "peak_gib", 4.0, None),
    ("dashboard query median ms (slowest query)", "dashboard_ms", 50, None),
)


def students_at(scale: float) -> int:
    return round(DEFAULT_STUDENTS * scale)


def measure(cmd: list[str], env: dict) -> dict:
    """Run a command; its wall time and peak resident memory (its own and its children's). On
    failure, the end of its output says why."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        output.seek(0)
        out = output.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} exited {code}: {out[-2000:]}")
    return {"seconds": round(wall, 2), "peak_mib": round(usage.ru_maxrss / 1024, 1)}


def stage(name: str, env: dict) -> dict:
    return measure([PY, "-m", "bench.stage", name], env)


STEP_STAGE = (("ingest", "ingest"), ("dbt", "dbt"), ("quality", "gate"), ("published", "publish"))


def newest_run(settings) -> dict:
    """The newest run: seconds per stage inside it (from its Dagster event log), what it read and
    where its dbt build went."""
    from bps_pipeline.dagster_home import prepare_dagster_home

    prepare_dagster_home(settings)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        started, steps = {}, {}
        for rec in instance.all_logs(run.run_id):
            ev = rec.dagster_event
            if ev is None or ev.step_key is None:
                continue
            if ev.event_type_value == "STEP_START":
                started[ev.step_key] = rec.timestamp
            elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and ev.step_key in started:
                name = next((st for prefix, st in STEP_STAGE if ev.step_key.startswith(prefix)), "other")
                steps[name] = steps.get(name, 0.0) + rec.timestamp - started[ev.step_key]
    build = last_build(settings, run_id=run.run_id)
    return {"run_id": run.run_id, "steps": {k: round(v, 2) for k, v in steps.items()},
            "read": run_reads(settings, run.run_id), "dbt_nodes": dbt_nodes(settings, run.run_id),
            "dbt_full_refresh": build.full_refresh_reason if build else None}


def dbt_nodes(settings, run_id: str, slowest: int = 8) -> dict:
    """dbt's elapsed time, seconds per kind of node and the slowest nodes (run_results.json)."""
    results = json.loads((settings.dbt_runs_dir / run_id / "run_results.json").read_text())
    kinds: dict[str, float] = {}
    for r in results["results"]:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0.0) + r["execution_time"]
    ranked = sorted(results["results"], key=lambda r: -r["execution_time"])[:slowest]
    return {"elapsed": round(results["elapsed_time"], 2), "by_kind": {k: round(v, 2) for k, v in kinds.items()},
            "slowest": {r["unique_id"].split(".")[2]: round(r["execution_time"], 2) for r in ranked}}


def run_reads(settings, run_id: str) -> dict:
    """The files and rows a run loaded, and how many files the landing folder holds."""
    from bps_pipeline.ingest.loader import scan_landing
    from bps_pipeline.warehouse import connect

    with connect(settings, read_only=True) as con:
        files, rows = con.execute("SELECT count(*), coalesce(sum(rows), 0) FROM raw._load_log WHERE load_id = ?",
                                  [run_id]).fetchone()
    return {"files": files, "rows": int(rows), "landing_files": len(scan_landing(settings.landing_dir))}


def whole_run(env: dict) -> dict:
    """`bps-pipeline run` as one process, with the seconds each stage took inside it."""
    m = measure([PY, "-m", "bps_pipeline.cli", "run"], env)
    out = subprocess.run([PY, "-m", "bench.stage", "newest-run"], env=env, check=True,
                         capture_output=True, text=True).stdout
    m.update(json.loads(out.strip().splitlines()[-1]))
    m["steps"]["start_up_and_other"] = round(m["seconds"] - sum(m["steps"].values()), 2)
    return m


DASHBOARD_QUERIES = {
    "district figure per metric": """SELECT metric_id, value, prior_value FROM marts.metric_values
        WHERE school_id IS NULL AND subgroup_type = 'all' AND period_type <> 'day'""",
    "one school's page": """SELECT metric_id, period, subgroup_type, subgroup_value, value, suppressed
        FROM marts.metric_values WHERE school_id = ? AND period_type <> 'day'""",
    "a breakdown (failure by race)": """SELECT school_year, subgroup_value, value, prior_value FROM marts.metric_values
        WHERE metric_id = 'students_failing_one_plus' AND school_id IS NULL AND subgroup_type = 'race_group'""",
    "daily attendance chart": """SELECT calendar_date, attendance_rate, online_activity_rate
        FROM marts.mart_daily_attendance WHERE school_id IS NULL ORDER BY calendar_date""",
}


def dashboard_timings(published: Path, repeat: int = 50) -> dict:
    import duckdb

    with duckdb.connect(str(published), read_only=True) as con:
        school = con.execute("SELECT min(school_id) FROM marts.metric_values").fetchone()[0]
        out = {}
        for name, sql in DASHBOARD_QUERIES.items():
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                con.execute(sql, [school] if "?" in sql else []).fetchall()
                times.append((time.perf_counter() - t) * 1000)
            out[name] = {"median_ms": round(statistics.median(times), 2),
                         "p95_ms": round(sorted(times)[int(0.95 * (repeat - 1))], 2)}
    return out


def next_school_day(day: date) -> date:
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += timedelta(days=1)
    return nxt


def parallel_check(threads: int, rows: int = 300_000_000) -> dict:
    """How much of the machine this scale got: one CPU-bound DuckDB aggregate on one thread and on
    all. A busy neighbour slows the floor (parallel SQL) more than the pipeline's single-threaded
    work, so read every ratio next to this speed-up."""
    import duckdb

    out = {}
    for n in (1, threads):
        with duckdb.connect(config={"threads": n}) as con:
            start = time.perf_counter()
            con.execute(f"SELECT sum(hash(i)) FROM range({rows}) t(i)").fetchall()
            out[f"{n}_thread_s"] = round(time.perf_counter() - start, 2)
    out["speedup"] = round(out["1_thread_s"] / out[f"{threads}_thread_s"], 2)
    return out


def bench_scale(scale: float, root: Path, repeat: int, as_of: date, result: dict) -> dict:
    """Measure one scale into `result`, filled as it goes (a later failure keeps what was measured)."""
    students = students_at(scale)
    d = root / f"scale_{scale:g}"
    shutil.rmtree(d, ignore_errors=True)
    env = {**os.environ, "BPS_DATA_DIR": str(d / "data"), "BPS_LANDING_DIR": str(d / "landing"),
           "BPS_ALERT_WEBHOOK_URL": "", "BPS_ALERT_SMTP_HOST": ""}
    settings = load_settings(env)
    result.update({"scale": scale, "students": students, "as_of": as_of.isoformat(),
                   "parallel_check": parallel_check(settings.duckdb_threads)})
    generate = [PY, "-m", "bps_pipeline.cli", "generate", "--students", str(students)]
    result["generate"] = measure([*generate, "--as-of", as_of.isoformat(), "--out", str(d / "landing")], env)
    rows: dict[str, int] = {}
    for f in sorted((d / "landing").rglob("*.csv")):
        with open(f, "rb") as fh:
            key = f"{f.parent.name}/{f.name.rsplit('_', 1)[0]}"
            rows[key] = rows.get(key, 0) + max(0, sum(1 for _ in fh) - 1)
    result["rows_per_extract"] = rows
    result["dbt_parse"] = stage("parse", env)  # the deploy step: the timed runs parse partially
    held = d / "next_day"
    result["generate_next_day"] = measure([*generate, "--as-of", next_school_day(as_of).isoformat(), "--night-only",
                                           "--out", str(held)], env)
    night_files = sorted(held.rglob("*.csv"))
    result["next_day_files"] = len(night_files)
    stages, whole, floors, nights = [], [], [], []
    for _ in range(repeat):
        for f in night_files:
            (d / "landing" / f.parent.name / f.name).unlink(missing_ok=True)
        shutil.rmtree(d / "data", ignore_errors=True)
        stages.append({s: stage(s, env) for s in STAGES})
        shutil.rmtree(d / "data", ignore_errors=True)
        whole.append(whole_run(env))
        compile_for_floor(env)
        floors.append(stage("floor", env))
        differ = differing_figures(settings.warehouse_path, floor_path(settings))
        if differ:
            raise RuntimeError(f"the floor's figures differ from the pipeline's in {differ} rows")
        shutil.rmtree(floor_path(settings).parent)
        for f in night_files:
            shutil.copy(f, d / "landing" / f.parent.name / f.name)
        nights.append(whole_run(env))
        if nights[-1]["dbt_full_refresh"]:  # a night timed as a full build says nothing of a night
            raise RuntimeError(f"the next-day run rebuilt in full: {nights[-1]['dbt_full_refresh']}")
        if nights[-1]["read"]["files"] != len(night_files):
            raise RuntimeError(f"the next-day run loaded {nights[-1]['read']['files']} files, not {len(night_files)}")
        result["stages"] = {s: _best([r[s] for r in stages]) for s in STAGES}
        result["whole_run"], result["floor"], result["next_day_run"] = _best(whole), _best(floors), _best(nights)
        result["paired"] = {"pipeline_over_floor": _paired(whole, floors), "night_over_full": _paired(nights, whole)}
    shutil.rmtree(held)
    result["dashboard"] = dashboard_timings(settings.published_path)
    result["targets"] = targets(result)
    return result


def targets(r: dict) -> list[dict]:
    peaks = [m["peak_mib"] for m in (r["whole_run"], r["next_day_run"], *r["stages"].values())]
    measured = {"pipeline_over_floor": r["paired"]["pipeline_over_floor"]["median"],
                "night_seconds": r["next_day_run"]["seconds"],
                "night_over_full": r["paired"]["night_over_full"]["median"],
                "peak_gib": round(max(peaks) / 1024, 2),
                "dashboard_ms": max(q["median_ms"] for q in r["dashboard"].values())}
    return [{"target": what, "at_most": bound, "measured": measured[key], "met": measured[key] <= bound}
            for what, key, bound, scales in TARGETS if scales is None or r["scale"] in scales]


def _paired(runs: list[dict], bases: list[dict]) -> dict:
    each = [round(r["seconds"] / b["seconds"], 3) for r, b in zip(runs, bases)]
    return {"each": each, "median": round(statistics.median(each), 2)}


def _best(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "runs": len(runs), "all_seconds": [r["seconds"] for r in runs]}


def print_table(results: list[dict]) -> None:
    print(f"\n{'scale':>6}{'students':>10}{'measured':>24}{'seconds':>10}{'peak MiB':>10}")
    for r in results:
        lines = [("generate", r["generate"]), ("generate next day", r["generate_next_day"]), ("dbt parse (deploy)", r["dbt_parse"]),
                 *r["stages"].items(), ("whole run", r["whole_run"]), ("floor (DuckDB alone)", r["floor"]),
                 ("next-day run", r["next_day_run"])]
        for name, m in lines:
            print(f"{r['scale']:>6g}{r['students']:>10,}{name:>24}{m['seconds']:>10.1f}{m['peak_mib']:>10.0f}")
        for name in ("whole_run", "next_day_run"):
            m = r[name]
            print(f"{'':>16}{name} inside: " + ", ".join(f"{k} {v:.1f} s" for k, v in m["steps"].items())
                  + f"; read {m['read']['files']} of {m['read']['landing_files']} files, {m['read']['rows']:,} rows"
                  + "; slowest dbt nodes " + ", ".join(f"{k} {v:.1f}" for k, v in list(m["dbt_nodes"]["slowest"].items())[:5]))
        for key, p in r["paired"].items():
            print(f"{'':>16}{key}: each repetition {', '.join(f'{x:.2f}' for x in p['each'])} (median {p['median']:.2f})")
        print(f"{'':>16}cores this scale got: {r['parallel_check']['speedup']:.2f}x from 1 to all DuckDB threads")
        print(f"{'':>16}dashboard medians: " + ", ".join(f"{k} {v['median_ms']:.1f} ms" for k, v in r["dashboard"].items()))
        for t in r["targets"]:
            print(f"{'':>16}target {t['target']} <= {t['at_most']:g}: {t['measured']:g} {'met' if t['met'] else 'NOT MET'}")


def software_versions() -> dict:
    from importlib.metadata import version

    git = subprocess.run(["git", "-C", str(PROJECT_ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return {"commit": git.stdout.strip() if git.returncode == 0 else None,
            **{pkg: version(pkg) for pkg in ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "great_expectations")}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--scales", type=float, nargs="+", default=[0.25, 1, 4])
    p.add_argument("--repeat", type=int, default=1, help="repetitions of whole run, floor and night (paired ratios)")
    p.add_argument("--out", type=Path, help="working folder (default <data>/bench)")
    p.add_argument("--as-of", type=date.fromisoformat, default=FULL_YEAR_AS_OF,
                   help=f"the districts' extract date (default {FULL_YEAR_AS_OF}: a full school year)")
    args = p.parse_args(argv)
    if not EARLIEST_AS_OF <= args.as_of < LATEST_AS_OF:
        p.error(f"--as-of {args.as_of} must fall between {EARLIEST_AS_OF} and the day before {LATEST_AS_OF} "
                "(SY2021's last school day): the next-day run needs a next school day")
    too_small = [s for s in args.scales if students_at(s) < MIN_STUDENTS]
    if too_small:
        p.error(f"scale {too_small[0]:g} is {students_at(too_small[0])} students; the smallest is "
                f"{MIN_STUDENTS / DEFAULT_STUDENTS:.3f} ({MIN_STUDENTS} students): below it a metric is empty "
                "and the gate blocks publication")
    root = args.out or load_settings().data_dir / "bench"
    root.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = root / f"results-{stamp}.json"
    report = {"measured_at": stamp, "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
              "software": software_versions(), "scales": args.scales, "repeat": args.repeat,
              "as_of": args.as_of.isoformat(), "results": []}
    for scale in args.scales:
        print(f"scale {scale:g} ...", file=sys.stderr, flush=True)
        result: dict = {}
        report["results"].append(result)
        try:
            bench_scale(scale, root, args.repeat, args.as_of, result)
        except BaseException as exc:
            result["failed"] = f"{type(exc).__name__}: {exc}"
            print(f"scale {scale:g} failed; what it measured is in {out}", file=sys.stderr)
            raise
        finally:
            out.write_text(json.dumps(report, indent=2))
    print_table(report["results"])
    print(f"\nJSON: {out}")
    return 0
