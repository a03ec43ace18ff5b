"""Why a dbt build failed, in one line for the run's summary and its alert.

dagster-dbt's own error starts "The dbt CLI process with command ... failed with exit code 1" and
puts dbt's messages after it, over many lines; an alert showed only that first line, which names
neither the node nor the reason. dbt writes run_results.json also when nodes fail, and it says
which nodes failed and why; this reads it.
"""

import json
import re
from pathlib import Path

FAILED = ("error", "fail")  # a node's status in run_results.json: a model's error, a test's fail or error
PER_NODE_CHARS = 300  # a model's error can carry its whole compiled SQL
NODES_NAMED = 5
# dbt starts a node's error with its kind, name and file, which the message names already
DBT_PREAMBLE = re.compile(r"^(?:Runtime|Database|Compilation) Error in \w+ \S+ \([^)]*\)\s*")


def one_line(text: str, limit: int = PER_NODE_CHARS) -> str:
    """The text on one line (dbt's messages are indented over several), cut to `limit` characters;
    dbt's preamble naming the node, which the message names already, taken off."""
    flat = DBT_PREAMBLE.sub("", " ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def why_the_build_failed(target_path: Path, dbt_messages: list[str]) -> str:
    """The failed nodes and dbt's reason for each, how many nodes were skipped after them, and
    where dbt's debug log is. Without run_results.json (dbt stopped before its first node, or died
    before its last: it writes the file at the end), dbt's own error messages."""
    log = target_path / "dbt.log"
    where = f" dbt's log: {log}" if log.exists() else ""
    try:
        results = json.loads((target_path / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        results = None
    if not results:
        return f"dbt build failed without writing run_results.json: {_said(dbt_messages) or 'no message from dbt'}.{where}"
    failed = [r for r in results if r.get("status") in FAILED]
    skipped = sum(r.get("status") == "skipped" for r in results)
    named = [f"{_kind_and_name(r['unique_id'])} {'failed' if r['status'] == 'fail' else 'errored'}: "
             f"{one_line(r.get('message') or 'no message')}"
             for r in failed[:NODES_NAMED]]
    if len(failed) > NODES_NAMED:
        named.append(f"and {len(failed) - NODES_NAMED} more")
    if not failed:  # dbt failed outside any node (after them, say)
        named = [_said(dbt_messages) or "dbt ended with an error outside its nodes"]
    tail = f"; {skipped} nodes skipped after {'it' if len(failed) == 1 else 'them'}" if skipped else ""
    return f"dbt build failed: {'; '.join(named)}{tail}.{where}"


def _said(dbt_messages: list[str]) -> str:
    """dbt's own messages (defs/dbt.py: dbt_messages), each on one line, joined."""
    return "; ".join(one_line(m) for m in dbt_messages if m.strip())


def _kind_and_name(unique_id: str) -> str:
    """test.bps.not_null_x.9d96 -> 'test not_null_x'; model.bps.int_students -> 'model int_students'."""
    parts = unique_id.split(".")
    return f"{parts[0]} {parts[2]}" if len(parts) > 2 else unique_id
