"""gunicorn as production runs it: JSON lines, and one /metrics adding up all its workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.test_access_log import STARTUP_PROBE, _request, _wait_until_up
from updates import ROOT
from updates.dev.embedded_redis import free_port

WORKERS = 3


@pytest.fixture
def production_gunicorn(app_config, app, tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """gunicorn with several workers, JSON logs and multiprocess metrics; its URL and logs."""
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "UPDATES_ENV": "test",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": str(app_config["SQLALCHEMY_DATABASE_URI"]),
        "REDIS_URL": str(app_config["REDIS_URL"]),
        "BASE_URL": f"http://127.0.0.1:{port}",
    }
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "python:updates.gunicorn_conf"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS)),
            *("--access-logfile", str(access_log), "--error-logfile", str(error_log)),
            "updates:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url)
        yield url, access_log, error_log
    finally:
        server.terminate()
        server.wait(timeout=30)


def _lines(path: Path, count: int) -> list[dict]:
    deadline = time.monotonic() + 10  # gunicorn writes each line after its answer
    while time.monotonic() < deadline:
        lines = [line for line in path.read_text().splitlines() if STARTUP_PROBE not in line]
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} lines in {path.name}")


@pytest.mark.slow
def test_one_scrape_adds_up_the_requests_every_worker_answered(production_gunicorn):
    url, _, _ = production_gunicorn
    for _ in range(30):  # spread over the workers by the kernel
        _request(f"{url}/healthz")
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    counts = {
        sample.labels.get("endpoint"): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "updates_request_duration_seconds_count"
    }
    assert counts["monitoring.healthz"] == 30
    assert "updates_deliveries_total" in text


PATHS = ("/api/subscribers", "/healthz")


@pytest.mark.slow
def test_access_lines_are_json_with_the_request_id_and_no_address(production_gunicorn):
    url, access_log, _ = production_gunicorn
    request = urllib.request.Request(f"{url}/api/subscribers?email=reader%40example.org")
    _request(request.full_url, Authorization="Bearer not-a-token")
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
        request_id = response.headers["X-Request-ID"]

    lines = _lines(access_log, 2)
    text = json.dumps(lines)
    assert "reader" not in text and "not-a-token" not in text
    # Two workers may write their lines in either order: each is found by its path.
    api, health = (next(line for line in lines if line["path"] == p) for p in PATHS)
    assert api["status"] == "401"
    assert health["request_id"] == request_id and health["duration_seconds"] < 5
