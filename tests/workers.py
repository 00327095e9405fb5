"""Real `python worker.py` processes for the fault tests, and a way to kill one outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import ExitStack, suppress
from pathlib import Path

from updates import ROOT


def start_worker(
    app_config: dict[str, object], log: Path | None = None, **settings: str
) -> subprocess.Popen[bytes]:
    """A `python worker.py` on the test's database, Redis and relay; its log to `log` if given."""
    env = {
        **os.environ,
        "UPDATES_ENV": "test",
        "DATABASE_URL": str(app_config["SQLALCHEMY_DATABASE_URI"]),
        "REDIS_URL": str(app_config["REDIS_URL"]),
        "SMTP_HOST": str(app_config["SMTP_HOST"]),
        "SMTP_PORT": str(app_config["SMTP_PORT"]),
        "BASE_URL": str(app_config["BASE_URL"]),
        "MAIL_FROM": str(app_config["MAIL_FROM"]),
        **settings,
    }
    with ExitStack() as files:  # the child keeps its own copy of the log file
        output = files.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        return subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=output,
        )


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_hard(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and everything it forked (the work horse has its own group)."""
    for pid in [worker.pid, *descendants(worker.pid)]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait()


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_hard(worker)
