"""One run at a time on the warehouse, whoever starts it (the CLI, the daemon's schedule or sensor).

DuckDB allows one writer, and a second run would fail somewhere in the middle with a lock error;
instead each run takes an exclusive lock on <data>/pipeline.lock when its resources are set up,
before any step, and a second run waits BPS_RUN_WAIT_SECONDS (default 0) and then fails at once
saying which run holds it, having changed nothing. The kernel releases the lock when the holding
process ends, also when it is killed.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import datetime, timezone
from typing import IO

import dagster as dg
from pydantic import PrivateAttr

from bps_pipeline.config import Settings, load_settings


class WarehouseBusy(Exception):
    """Another run holds the warehouse; str() says which."""


def acquire(settings: Settings, run_id: str) -> IO:
    """The open, exclusively locked lock file, stamped with this run; raises WarehouseBusy."""
    path = settings.data_dir / "pipeline.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    deadline = time.monotonic() + settings.run_wait_seconds
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                fh.seek(0)
                holder = fh.read().strip() or "a run that has not said which"
                fh.close()
                raise WarehouseBusy(f"another run holds the warehouse ({holder}); this run changed nothing. "
                                    "Wait for it, or set BPS_RUN_WAIT_SECONDS to queue behind it") from None
            time.sleep(0.5)
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"run_id": run_id, "pid": os.getpid(),
                         "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
    fh.flush()
    return fh


def release(fh: IO) -> None:
    fh.seek(0)
    fh.truncate()
    fcntl.flock(fh, fcntl.LOCK_UN)
    fh.close()


class WarehouseLock(dg.ConfigurableResource):
    """Holds the warehouse for the run, from resource set-up to teardown."""

    _held: IO | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._held = acquire(load_settings(), context.run.run_id if context.run else "unknown")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._held is not None:
            release(self._held)
            self._held = None
