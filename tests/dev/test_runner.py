"""The development runner as a newcomer starts and stops it: up in one command, Ctrl-C ends it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from updates import ROOT
from updates.dev.embedded_redis import free_port


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> bytes:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_ctrl_c_stops_web_worker_and_redis_without_a_traceback(tmp_path: Path):
    port, mail_port = free_port(), free_port()
    log = tmp_path / "dev.log"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}"}
    for name in ("UPDATES_ENV", "REDIS_URL"):
        env.pop(name, None)
    with log.open("wb") as output:
        runner = subprocess.Popen(
            [
                *(sys.executable, "-m", "flask", "--app", "updates", "dev"),
                *("--port", str(port), "--mail-port", str(mail_port)),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal of its own, so Ctrl-C can go to its group
        )
        try:
            page = _wait_for(f"http://127.0.0.1:{port}/", runner)
            assert b'name="email"' in page
            descendants = _descendants(runner.pid)
            assert len(descendants) >= 3  # redis-server, the worker, the web server
            started = log.read_text().count("\n")

            os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
            assert runner.wait(timeout=30) == 0
        finally:
            if runner.poll() is None:
                os.killpg(runner.pid, signal.SIGKILL)

    after = "".join(log.read_text().splitlines(keepends=True)[started:])
    assert "stopping" in after
    assert "Traceback" not in after
    assert "unreachable" not in after  # nobody lost Redis before they stopped
    deadline = time.monotonic() + 10
    while any(_alive(int(pid)) for pid in descendants) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in descendants if _alive(int(pid))]


def _descendants(pid: int) -> list[str]:
    found, waiting = [], [str(pid)]
    while waiting:
        parent = waiting.pop()
        kids = subprocess.run(["pgrep", "-P", parent], capture_output=True, text=True)
        found += kids.stdout.split()
        waiting += kids.stdout.split()
    return found
