"""One stage of the pipeline in its own process, so the bench can time it alone:
`python -m bench.stage ingest|dbt|gate|publish|floor|parse|newest-run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bps_pipeline.config import load_settings


def main(name: str) -> None:
    settings = load_settings()
    if name == "ingest":
        from bps_pipeline.ingest.landing import ingest_landing

        for load in ingest_landing(settings, "bench"):  # what the pipeline's ingest step runs
            if load.error:
                raise load.error
    elif name == "dbt":
        from bps_pipeline.warehouse import dbt_command, dbt_env

        subprocess.run(dbt_command("build", "--exclude", "test_type:unit", "--quiet"),
                       env={**os.environ, **dbt_env(settings)}, check=True)
    elif name == "gate":
        from bps_pipeline.quality.gate import run_gate

        run_gate(settings)
    elif name == "publish":
        from bps_pipeline.publish.release import publish

        publish(settings, "bench", 0, 0)
    elif name == "floor":
        from bench.floor import floor

        floor(settings)
    elif name == "parse":
        from bps_pipeline.transform.project import ensure_manifest

        ensure_manifest()
    elif name == "newest-run":
        from bench.run import newest_run

        print(json.dumps(newest_run(settings)))
    else:
        raise SystemExit(f"unknown stage {name}")


if __name__ == "__main__":
    main(sys.argv[1])
