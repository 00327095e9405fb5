"""/healthz, /readyz and /metrics, on the real database and a real Redis that is really stopped."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import digest_status, sign_up, subscriber
from updates import ROOT, create_app
from updates.dev.embedded_redis import EmbeddedRedis
from updates.extensions import db
from updates.instruments import SMTP_SECONDS
from updates.models import Digest, OutboundEmail
from updates.news import digests
from updates.subscribers.consent import Evidence
from updates.subscribers.preferences import erase
from updates.worker.delivery import start_digest

OUTSIDE = {"REMOTE_ADDR": "203.0.113.5"}
TOKEN = "scrape-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape[(name, tuple(sorted(labels.items())))]


def unreachable_database(app_config: dict[str, object], tmp_path) -> str:
    """A URL of the test's kind of database that cannot be reached: a closed port, a missing
    folder."""
    if str(app_config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        return "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'updates.db'}"


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own, to stop while the app runs."""
    server = EmbeddedRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return {**app_config, "METRICS_TOKEN": TOKEN}


def test_healthz_answers_while_the_process_runs(client: FlaskClient):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_answers_200_when_the_database_and_redis_answer(client: FlaskClient):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_answers_503_naming_redis_once_redis_is_stopped(
    app_config: dict[str, object], own_redis: EmbeddedRedis
):
    app = create_app({**app_config, "REDIS_URL": own_redis.url})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    own_redis.stop()
    started = time.monotonic()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["redis"]
    assert response.json["checks"]["database"] == "ok"
    assert time.monotonic() - started < 3  # the short timeout, not redis-py's default
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_readyz_answers_503_naming_the_database_when_it_cannot_be_reached(
    app_config: dict[str, object], tmp_path
):
    missing = unreachable_database(app_config, tmp_path)
    client = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": missing}).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["database"]
    assert response.json["checks"]["redis"] == "ok"


def test_health_endpoints_are_never_rate_limited(client: FlaskClient):
    assert all(client.get("/readyz").status_code == 200 for _ in range(60))


def test_metrics_are_served_to_loopback_clients(client: FlaskClient):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "updates_deliveries_total" in response.text


def test_metrics_refuse_other_addresses_without_the_token(client: FlaskClient):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    wrong = {"Authorization": "Bearer not-the-token"}
    refused = client.get("/metrics", environ_base=OUTSIDE, headers=wrong)
    assert refused.status_code == 403
    assert "updates_" not in refused.text


def test_metrics_are_served_to_other_addresses_with_the_token(client: FlaskClient):
    given = {"Authorization": f"Bearer {TOKEN}"}
    response = client.get("/metrics", environ_base=OUTSIDE, headers=given)
    assert response.status_code == 200
    assert "updates_subscribers" in response.text


def test_a_proxied_request_never_counts_as_loopback(client: FlaskClient):
    """A reverse proxy on this machine connects from 127.0.0.1 on behalf of anyone."""
    forwarded = {"X-Forwarded-For": "203.0.113.5"}
    assert client.get("/metrics", headers=forwarded).status_code == 403


def test_behind_a_trusted_proxy_an_outside_client_is_refused(app_config: dict[str, object]):
    client = create_app({**app_config, "TRUSTED_PROXIES": 1}).test_client()
    forwarded = {"X-Forwarded-For": "203.0.113.5"}
    assert client.get("/metrics", headers=forwarded).status_code == 403
    assert client.get("/metrics").status_code == 200  # the scraper beside it, not proxied


def test_without_a_configured_token_no_bearer_is_accepted(app_config: dict[str, object]):
    client = create_app({**app_config, "METRICS_TOKEN": ""}).test_client()
    empty = {"Authorization": "Bearer "}
    assert client.get("/metrics", environ_base=OUTSIDE, headers=empty).status_code == 403


def test_a_scrape_after_a_real_digest_tells_the_service_figures(
    app: Flask, client: FlaskClient, run_jobs, mail_server
):
    create_topics("lps", "care")
    for n in range(5):
        create_subscriber(f"reader{n}@example.org", ["lps"])
    create_subscriber("gone@example.org", ["lps"], status="unsubscribed")
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    sign_up(client, "new@example.org", ["lps"])
    smtp_before = _count(SMTP_SECONDS)
    digests.send(digest)
    run_jobs()
    assert len(mail_server.received) == 6  # five readers and one confirmation

    scrape = samples(client.get("/metrics").text)
    assert value(scrape, "updates_deliveries_total", status="sent") == 5
    assert value(scrape, "updates_deliveries_total", status="failed") == 0
    assert value(scrape, "updates_deliveries_pending") == 0
    assert value(scrape, "updates_emails_total", kind="confirm", status="sent") == 1
    assert value(scrape, "updates_subscribers", status="active") == 5
    assert value(scrape, "updates_subscribers", status="pending") == 1
    assert value(scrape, "updates_subscribers", status="unsubscribed") == 1
    assert value(scrape, "updates_digests", status="sent") == 1
    assert value(scrape, "updates_queue_jobs", queue="send", state="queued") == 0
    assert value(scrape, "updates_queue_jobs", queue="mail", state="failed") == 0
    assert value(scrape, "updates_scrape_ok", source="database") == 1
    assert value(scrape, "updates_scrape_ok", source="redis") == 1
    assert value(scrape, "updates_signups_total", outcome="accepted") >= 1
    assert (
        value(
            scrape,
            "updates_request_duration_seconds_count",
            endpoint="public.signup",
            method="POST",
        )
        >= 1
    )
    assert _count(SMTP_SECONDS) - smtp_before == 6  # one round trip a message


def test_a_digest_in_progress_shows_its_deliveries(
    app: Flask, client: FlaskClient, run_jobs, mail_server
):
    create_topics("lps")
    for n in range(3):
        create_subscriber(f"reader{n}@example.org", ["lps"])
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    digests.send(digest)
    with app.app_context():  # the start alone, in a worker's stead; the batch stays queued
        start_digest(digest.id)
    scrape = samples(client.get("/metrics").text)
    assert value(scrape, "updates_digest_deliveries", digest=str(digest.id), status="pending") == 3
    assert value(scrape, "updates_deliveries_pending") == 3
    # The start job that send() queued, which no worker took, and the one batch.
    assert value(scrape, "updates_queue_jobs", queue="send", state="queued") == 2


def test_a_scrape_with_redis_down_still_answers_with_the_database_figures(
    app_config: dict[str, object], own_redis: EmbeddedRedis
):
    client = create_app({**app_config, "REDIS_URL": own_redis.url}).test_client()
    own_redis.stop()
    response = client.get("/metrics")
    assert response.status_code == 200
    scrape = samples(response.text)
    assert value(scrape, "updates_scrape_ok", source="redis") == 0
    assert value(scrape, "updates_scrape_ok", source="database") == 1
    assert ("updates_deliveries_total", (("status", "sent"),)) in scrape


def _count(histogram) -> float:
    return next(
        sample.value for sample in histogram.collect()[0].samples if sample.name.endswith("_count")
    )


def test_email_outcomes_keep_counting_after_their_rows_are_erased(
    app: Flask, client: FlaskClient, topics, run_jobs
):
    sign_up(client, "visitor@example.org", ["events"])
    run_jobs()
    erase(subscriber("visitor@example.org"), Evidence(source="test"))
    assert OutboundEmail.query.count() == 0

    scrape = samples(client.get("/metrics").text)
    assert value(scrape, "updates_emails_total", kind="confirm", status="sent") == 1
    assert ("updates_emails_pending", (("kind", "confirm"),)) not in scrape


def test_a_finished_digest_reopened_for_a_retry_is_counted_afresh(
    app: Flask, client: FlaskClient, run_jobs, mail_server
):
    create_topics("lps")
    for n in range(3):
        create_subscriber(f"reader{n}@example.org", ["lps"])
    mail_server.refuse("reader1@example.org", "554 5.7.1 Rejected by policy")
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    digests.send(digest)
    run_jobs()
    scrape = samples(client.get("/metrics").text)  # the finished digest's counts are kept now
    assert value(scrape, "updates_deliveries_total", status="failed") == 1
    assert value(scrape, "updates_deliveries_total", status="sent") == 2

    digests.retry_failed(db.session.get(Digest, digest.id))
    db.session.commit()
    run_jobs()
    assert digest_status(digest.id) == "sent"
    scrape = samples(client.get("/metrics").text)
    assert value(scrape, "updates_deliveries_total", status="failed") == 0
    assert value(scrape, "updates_deliveries_total", status="sent") == 3


def test_the_grafana_dashboard_charts_only_metrics_the_service_serves(client: FlaskClient):
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    charted = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bupdates_\w+", target["expr"])
    }
    scrape = client.get("/metrics").text
    served = {family.name for family in text_string_to_metric_families(scrape)}
    assert len(charted) >= 10
    assert charted <= served, charted - served


def test_a_scrape_with_the_database_down_still_answers_with_the_redis_figures(
    app_config: dict[str, object], tmp_path
):
    missing = unreachable_database(app_config, tmp_path)
    client = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": missing}).test_client()
    response = client.get("/metrics")
    assert response.status_code == 200
    scrape = samples(response.text)
    assert value(scrape, "updates_scrape_ok", source="database") == 0
    assert value(scrape, "updates_scrape_ok", source="redis") == 1
    assert value(scrape, "updates_queue_jobs", queue="mail", state="queued") == 0


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word: a dependency that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for connection in accepted:
        connection.close()


def test_readyz_gives_up_on_a_redis_that_hangs(app_config: dict[str, object], silent_server):
    hanging = f"redis://127.0.0.1:{silent_server}/0"
    client = create_app({**app_config, "REDIS_URL": hanging}).test_client()
    started = time.monotonic()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["redis"]
    assert time.monotonic() - started < 3


def test_readyz_gives_up_on_a_database_that_hangs(app_config: dict[str, object], silent_server):
    if not str(app_config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql"):
        pytest.skip("a SQLite file has no server to hang; the PostgreSQL run covers this")
    hanging = f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/nowhere"
    client = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": hanging}).test_client()
    started = time.monotonic()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["database"]
    assert time.monotonic() - started < 5  # libpq's shortest connect timeout is 2 s


def test_sign_ups_are_counted_by_outcome(app_config: dict[str, object], topics):
    app_config["SIGNUP_LIMIT_PER_IP"] = "2/minute"
    client = create_app(app_config).test_client()

    def outcomes() -> dict[str, float]:
        scrape = samples(client.get("/metrics").text)
        return {
            dict(labels)["outcome"]: count
            for (name, labels), count in scrape.items()
            if name == "updates_signups_total"
        }

    before = outcomes()
    assert sign_up(client, "not an address", ["events"]).status_code == 400
    assert sign_up(client, "new@example.org", ["events"]).status_code == 200
    assert sign_up(client, "again@example.org", ["events"]).status_code == 429
    after = outcomes()
    for outcome in ("invalid", "accepted", "rate_limited"):
        assert after[outcome] - before.get(outcome, 0) == 1, outcome
