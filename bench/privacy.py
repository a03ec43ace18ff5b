"""What a release protects, measured on a generated district: the cells published, how many are
suppressed or range-coded, how many hidden counts the two attacks get back (a total minus its
visible parts; the LP audit's narrowing below the protection level), and how long the
suppression model took. The published file and the warehouse's exact counts are the inputs,
so this is the attacker's view checked against the truth.

    python -m bench.privacy --students 20000 --seed 3 [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from bps_pipeline.config import load_settings
from bps_pipeline.privacy.audit import CELL, relations


def subtraction_attack(published_path: Path, warehouse_path: Path) -> tuple[int, int]:
    """(hidden counts, those a total minus its visible parts gives exactly): every published sum
    (audit.relations) with exactly one hidden member, checked against the true counts."""
    with duckdb.connect(str(published_path), read_only=True) as pub:
        shown = pub.sql("""select v.*, m.unit <> 'index' as additive from marts.metric_values v
                           join marts.dim_metrics m using (metric_id)""").df()
    with duckdb.connect(str(warehouse_path), read_only=True) as wh:
        truth = wh.sql("select * from intermediate.int_metric_cells").df()
    merged = shown.merge(truth[CELL + ["numerator", "denominator"]], on=CELL, how="left", suffixes=("", "_true"))
    hidden = recovered = 0
    sums = relations(merged)
    for count in ("numerator", "denominator"):
        values, true = merged[count].astype(float).to_numpy(), merged[f"{count}_true"].astype(float).to_numpy()
        hidden += int(((merged[count].isna()) & merged[f"{count}_true"].notna()).sum())
        for total, parts in sums:
            members = [total, *parts]
            missing = [m for m in members if values[m] != values[m]]
            if len(missing) != 1:
                continue
            m = missing[0]
            guess = values[parts].sum() if m == total else values[total] - sum(values[p] for p in parts if p != m)
            recovered += abs(guess - true[m]) < 1e-6
    return hidden, recovered


def measure_release(settings) -> dict:
    from bps_pipeline.privacy.published_cells import audit_release
    from bps_pipeline.warehouse import connect

    with duckdb.connect(str(settings.published_path), read_only=True) as pub:
        cells, suppressed, coded = pub.execute("""select count(*), count(*) filter (suppressed),
                                                     count(*) filter (range_coded) from marts.metric_values""").fetchone()
    hidden, recovered = subtraction_attack(settings.published_path, settings.warehouse_path)
    with connect(settings, read_only=True) as con:
        audited, exposures = audit_release(con, settings.privacy_protection_level)
    return {"cells": cells, "suppressed": suppressed, "range_coded": coded, "hidden_counts": hidden,
            "recovered_by_subtraction": recovered, "audited_counts": audited, "narrowed_by_lp": len(exposures),
            "protection_level": settings.privacy_protection_level}


def visibility_model_seconds(settings) -> float | None:
    """The suppression model's time in the newest dbt run (its run_results.json)."""
    runs = sorted(settings.data_dir.glob("dbt_runs/*/run_results.json"), key=lambda p: p.stat().st_mtime)
    for path in reversed(runs):
        for r in json.loads(path.read_text())["results"]:
            if r["unique_id"].endswith(".int_metric_cell_visibility"):
                return round(r["execution_time"], 1)
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.privacy", description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=20000)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", type=Path, help="working folder (default <data>/bench/privacy)")
    args = p.parse_args(argv)
    root = args.out or load_settings().data_dir / "bench" / "privacy"
    env = {**os.environ, "BPS_DATA_DIR": str(root / "data"), "BPS_LANDING_DIR": str(root / "landing"),
           "BPS_ALERT_WEBHOOK_URL": "", "BPS_ALERT_SMTP_HOST": ""}
    cli = [sys.executable, "-m", "bps_pipeline.cli"]
    subprocess.run([*cli, "generate", "--students", str(args.students), "--seed", str(args.seed),
                    "--out", str(root / "landing")], env=env, check=True, stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    subprocess.run([*cli, "run"], env=env, check=True, stdout=subprocess.DEVNULL)
    settings = load_settings(env)
    result = {"students": args.students, "seed": args.seed, "run_seconds": round(time.perf_counter() - start, 1),
              "visibility_model_seconds": visibility_model_seconds(settings), **measure_release(settings)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
