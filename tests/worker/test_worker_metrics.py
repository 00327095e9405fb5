"""A real `python worker.py` serves its SMTP round trips, its work horses' included."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import digest_status
from tests.workers import start_worker, stop
from updates.dev.embedded_redis import free_port
from updates.news import digests


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_workers_port_counts_the_round_trips_of_its_horses(app, app_config, tmp_path: Path):
    create_topics("lps")
    for n in range(4):
        create_subscriber(f"reader{n}@example.org", ["lps"])
    first = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    second = create_test_digest([create_news("Audits", ["lps"])], ["lps"])
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    worker = start_worker(
        app_config,
        log=tmp_path / "worker.log",
        WORKER_METRICS_PORT=str(port),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    try:
        digests.send(first)
        digests.send(second)
        wait_until(lambda: digest_status(first.id) == digest_status(second.id) == "sent")
        wait_until(lambda: scrape(port).get("updates_smtp_round_trip_seconds_count") == 8, 10)
        files = {path.name.split("_", 1)[1] for path in metrics_dir.iterdir()}
    finally:
        stop(worker)
    # Two digests: four horses at least (two starts, two batches), and two files' names between
    # them: the worker's own and the one its horses share.
    assert files == {f"{worker.pid}.db", f"{worker.pid}-horse.db"}
