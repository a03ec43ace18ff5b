"""A dbt process started early, so the build does not wait for dbt's imports.

`bps-dbt` spends about 3 s of one core importing dbt before it reads its arguments (2 cores,
2026-12-03), and the build waits for it. The dbt resource starts this server when a run sets it up,
before ingest: a process that imports dbt, runs one throwaway `dbt parse` (warm_up: dbt's first
command in a process costs about 1.8 s more than later ones), then waits on a Unix socket. The
`bps-dbt` that dagster-dbt starts for the build hands it its arguments, environment, working folder
and standard streams (the file descriptors themselves, so dagster-dbt reads dbt's events from the
pipe it made), forwards SIGINT and SIGTERM to it, and exits with its exit code. One build per
server: it stops listening once it has one. Without a server - dbt by hand, the bench's stages, a
second build in a run, a server that failed to start - `bps-dbt` imports dbt itself, as before.

    python -m bps_pipeline.transform.warm_dbt LISTENING_SOCKET_FD    (started by start(), not by hand)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SOCKET_ENV = "BPS_DBT_WARM_SOCKET"  # where `bps-dbt` finds the server; set by the dbt resource
IDLE_CHECK_SECONDS = 5  # an unused server notices this often that the run that started it is gone


@dataclass
class WarmDbt:
    """A started server, as the dbt resource holds it."""
    process: subprocess.Popen
    socket_path: Path

    def stop(self) -> bool:
        """End the server if no build took it; True if a build ran in it. Removes its folder."""
        # The server removes its socket when it takes a build, so the socket alone tells. Whether
        # the process has exited yet does not: after a build it may still be tearing down.
        unused = self.socket_path.exists()
        if unused and self.process.poll() is None:  # still waiting for a build
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.socket_path.parent, ignore_errors=True)  # the socket, and a warm-up cut short
        return not unused


def start() -> WarmDbt:
    """Start a server. The socket is bound and listening here, before the process starts, so a
    `bps-dbt` that comes at once waits in its queue rather than finding no server."""
    folder = Path(tempfile.mkdtemp(prefix="bps-dbt-"))  # private (0700): the environment passes through it
    path = folder / "dbt.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        process = subprocess.Popen(
            [sys.executable, "-m", "bps_pipeline.transform.warm_dbt", str(listener.fileno())],
            pass_fds=[listener.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # dagster-dbt reads dbt's events line by line as they come; a server started without
            # this would buffer its stdout in blocks once it has the build's pipe
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return WarmDbt(process, path)


# ---------------------------------------------------------------------------------------------
# bps-dbt's side


def interruptible() -> None:
    """SIGINT raises KeyboardInterrupt in this process, as in a Python started from a terminal.

    dagster-dbt stops a build by SIGINT to the process it started (`bps-dbt`, which forwards it to
    the server's dbt), so both must take it even when the run was started with SIGINT ignored,
    which children inherit: a shell script's background job (`cmd &`) is started so, and with it a
    daemon started that way and every run and dbt under it. dbt then ran on to its end."""
    signal.signal(signal.SIGINT, signal.default_int_handler)


def hand_over(path: str) -> int | None:
    """Run this `bps-dbt` command in the server at `path`; its exit code, or None when no server
    took it (none listening, or it stopped before starting dbt), so the caller runs dbt itself."""
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(path)
    except OSError:
        return None
    pending: list[int] = []
    pid: int | None = None

    def forward(signum, _frame):
        if pid is None:
            pending.append(signum)
        else:
            os.kill(pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    request = {"argv": sys.argv, "env": {k: v for k, v in os.environ.items() if k != SOCKET_ENV},
               "cwd": os.getcwd()}
    try:
        socket.send_fds(conn, [b"\0"], [0, 1, 2])
        conn.sendall(json.dumps(request).encode() + b"\n")
        replies = conn.makefile("rb")
        started = replies.readline()  # {"pid": ...} once the server has imported dbt
    except OSError:
        started = b""
    if not started:  # closed before dbt started: nothing ran, so dbt runs here, interruptible again
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in pending:  # one that came meanwhile is this process's own now
            signal.raise_signal(signum)
        return None
    pid = json.loads(started)["pid"]
    for signum in pending:
        os.kill(pid, signum)
    ended = replies.readline()  # a forwarded signal does not end the wait (PEP 475): dbt's exit does
    if not ended:
        print(f"bps-dbt: the dbt process (pid {pid}) ended without an exit code", file=sys.stderr)
        return 1
    return int(json.loads(ended)["exit_code"])


# ---------------------------------------------------------------------------------------------
# the server's side


def warm_up(folder: Path) -> bool:
    """A `dbt parse` of the project into `folder`, thrown away, so the build is this process's
    second dbt command.

    dbt's first command in a process builds its classes' validators and (de)serialisers
    (mashumaro generates their code on first use): about 1.8 s of one core at 4x, measured
    (2026-12-04: `dbt ls` 2.2 s first, 0.3-0.4 s after). Done here, it overlaps ingest instead
    of delaying the build. Parsing does not open the warehouse (checked with ingest's write lock
    held), and dbt sets its flags, logging, adapters and invocation context afresh for every
    command; deprecation warnings, which dbt gives once a process, are reset so the build still
    gives them. Any failure is the build's to report: it parses the same project. True if the
    parse succeeded."""
    from dbt import deprecations
    from dbt.cli.main import dbtRunner

    from bps_pipeline.config import DBT_TARGET_DIR, load_settings
    from bps_pipeline.warehouse import dbt_command, default_dbt_env

    before = dict(os.environ)
    try:
        folder.mkdir()
        default_dbt_env(load_settings())  # as the build's `bps-dbt` has it
        partial = DBT_TARGET_DIR / "partial_parse.msgpack"  # as dagster-dbt copies it for the build
        if partial.exists():
            shutil.copy(partial, folder)
        command = dbt_command("parse", "--quiet", "--target-path", str(folder), "--log-path", str(folder))
        return dbtRunner().invoke(command[1:]).success  # the arguments, without the executable
    except Exception:  # noqa: BLE001 - only slower: the build starts dbt's classes itself
        return False
    finally:
        os.environ.clear()
        os.environ.update(before)
        deprecations.reset_deprecations()
        shutil.rmtree(folder, ignore_errors=True)


def serve(listener_fd: int) -> None:
    from bps_pipeline.cli import exit_without_teardown, run_dbt_cli

    interruptible()
    parent = os.getppid()
    listener = socket.socket(fileno=listener_fd)
    path = listener.getsockname()
    import dbt.cli.main  # noqa: F401 - the slow part, done before any build asks

    warm_up(Path(path).parent / "warm-up")
    listener.settimeout(IDLE_CHECK_SECONDS)
    while True:
        try:
            conn, _ = listener.accept()
            break
        except TimeoutError:
            if os.getppid() != parent:  # the run ended without tearing its resources down
                os._exit(0)
    listener.close()  # one build: a second `bps-dbt` finds no server and runs dbt itself
    os.unlink(path)
    conn.settimeout(None)
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    request = json.loads(conn.makefile("rb").readline())
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = request["argv"]
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    code = run_dbt_cli()
    try:
        conn.sendall(json.dumps({"exit_code": code}).encode() + b"\n")
    except OSError:  # bps-dbt is gone; dbt's output went to its streams all the same
        pass
    exit_without_teardown(code)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
