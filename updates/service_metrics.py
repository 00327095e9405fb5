"""Figures about the whole service, read from the database and Redis when Prometheus scrapes.

Workers run on many machines and any of them may send any delivery, so no process can count
these for itself: the ledger, the outbox, the subscriber list and RQ's registries are the
truth, and each scrape reads them with a few GROUP BYs over indexed columns
(docs/benchmarks.md has what a scrape costs on a million-row ledger).

A `_total` counts final outcomes only, and what is still pending is a gauge beside it:

- deliveries: the ledger keeps every row, so its counts by final status only grow (but for
  a staff retry of failed deliveries, which turns failed ones back into pending). A finished
  digest's counts no longer change, so each process keeps them, keyed by the digest's
  `finished_at`, and a scrape counts only the digests still in progress;
- transactional emails: their rows are deleted (erasure, the purge of unconfirmed sign-ups),
  so the outcomes are counted as they happen, after the commit, in one Redis hash that every
  worker adds to. Redis restarting empty is a counter reset, which Prometheus expects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from flask import Flask, current_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.client import Pipeline
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from updates import queues
from updates.extensions import db
from updates.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestStatus,
    EmailState,
    OutboundEmail,
    Subscriber,
    SubscriberStatus,
)
from updates.transaction import after_commit

log = logging.getLogger(__name__)

FINAL_DELIVERY = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)
FINAL_EMAIL = (EmailState.SENT, EmailState.FAILED, EmailState.CANCELLED)
SUBSCRIBER_STATUSES = (
    SubscriberStatus.PENDING,
    SubscriberStatus.ACTIVE,
    SubscriberStatus.UNSUBSCRIBED,
    SubscriberStatus.BOUNCED,
    SubscriberStatus.COMPLAINED,
    SubscriberStatus.ERASED,
)
DIGEST_STATUSES = (
    DigestStatus.DRAFT,
    DigestStatus.SCHEDULED,
    DigestStatus.SENDING,
    DigestStatus.PAUSED,
    DigestStatus.SENT,
    DigestStatus.CANCELLED,
)
QUEUE_STATES = ("queued", "started", "scheduled", "deferred", "failed")
EMAIL_OUTCOMES = "updates:metrics:email-outcomes"  # a hash: "kind:state" → count
FINISHED = (DigestStatus.SENT, DigestStatus.CANCELLED)
IDS_AT_ONCE = 500  # digest ids in one IN (…): a first scrape after years of digests


def count_email_outcome(kind: str, state: str) -> None:
    """Once the transaction commits, add one to the emails of that kind and final state."""
    after_commit(lambda: _add_outcome(kind, state))


def _add_outcome(kind: str, state: str) -> None:
    try:
        queues.redis_connection().hincrby(EMAIL_OUTCOMES, f"{kind}:{state}", 1)
    except RedisError as error:  # a figure lost is no reason to fail the job that sent it
        log.warning("could not count a %s email %s: %s", kind, state, type(error).__name__)


def _grouped(*columns, where=None) -> list[tuple]:
    query = select(*columns, func.count()).group_by(*columns)
    if where is not None:
        query = query.where(where)
    return [tuple(row) for row in db.session.execute(query)]


def _finished_counts() -> dict[int, tuple[object, dict[str, int]]]:
    """This process's counts of finished digests: digest id → (finished_at, status → count)."""
    return current_app.extensions.setdefault("updates.finished_digests", {})


def _counts_by_digest(digest_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries by digest and status, on the (digest_id, status) index."""
    counts: dict[int, dict[str, int]] = {digest_id: {} for digest_id in digest_ids}
    for start in range(0, len(digest_ids), IDS_AT_ONCE):
        where = Delivery.digest_id.in_(digest_ids[start : start + IDS_AT_ONCE])
        for digest_id, status, count in _grouped(Delivery.digest_id, Delivery.status, where=where):
            counts[digest_id][status] = count
    return counts


def delivery_counts() -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """Deliveries by status over the whole ledger, and by status for each digest in progress.

    Finished digests come from this process's memory once counted; a digest reopened for a
    retry is counted live, and again once it has finished anew (its finished_at differs).
    """
    started = db.session.execute(
        select(Digest.id, Digest.status, Digest.finished_at).where(Digest.started_at.is_not(None))
    ).all()
    known = _finished_counts()
    finished = {digest_id: when for digest_id, status, when in started if status in FINISHED}
    stale = [
        digest_id for digest_id, when in finished.items() if known.get(digest_id, (0,))[0] != when
    ]
    for digest_id, counts in _counts_by_digest(stale).items():
        known[digest_id] = (finished[digest_id], counts)
    live = _counts_by_digest([digest_id for digest_id, *_ in started if digest_id not in finished])
    totals: dict[str, int] = {}
    for counts in [*(known[digest_id][1] for digest_id in finished), *live.values()]:
        for status, count in counts.items():
            totals[status] = totals.get(status, 0) + count
    return totals, live


def delivery_metrics() -> Iterator[Metric]:
    counts, live = delivery_counts()
    total = CounterMetricFamily(
        "updates_deliveries", "Newsletter deliveries by final outcome.", labels=["status"]
    )
    for status in FINAL_DELIVERY:
        total.add_metric([status], counts.get(status, 0))
    yield total
    yield GaugeMetricFamily(
        "updates_deliveries_pending",
        "Newsletter deliveries written in the ledger and not yet sent.",
        value=counts.get(DeliveryStatus.PENDING, 0),
    )
    progress = GaugeMetricFamily(
        "updates_digest_deliveries",
        "Deliveries of each digest in progress (sending or paused), by status.",
        labels=["digest", "status"],
    )
    for digest_id, by_status in sorted(live.items()):
        for status, count in sorted(by_status.items()):
            progress.add_metric([str(digest_id), status], count)
    yield progress


def pending_email_metrics() -> Iterator[Metric]:
    pending = GaugeMetricFamily(
        "updates_emails_pending", "Transactional emails owed and not yet sent.", labels=["kind"]
    )
    where = OutboundEmail.state == EmailState.PENDING  # the (state, created_at) index
    for kind, count in _grouped(OutboundEmail.kind, where=where):
        pending.add_metric([kind], count)
    yield pending


def email_outcome_metrics(pipeline: Pipeline) -> Callable[[list], Iterator[Metric]]:
    pipeline.hgetall(EMAIL_OUTCOMES)

    def families(answers: list) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "updates_emails",
            "Transactional emails by kind and final outcome, counted as they happen.",
            labels=["kind", "status"],
        )
        for key, count in sorted(answers[0].items()):
            kind, _, state = key.decode().partition(":")
            if state in FINAL_EMAIL:
                total.add_metric([kind, state], int(count))
        yield total

    return families


def subscriber_metrics() -> Iterator[Metric]:
    counts = dict(_grouped(Subscriber.status))
    gauge = GaugeMetricFamily("updates_subscribers", "Subscribers by status.", labels=["status"])
    for status in SUBSCRIBER_STATUSES:
        gauge.add_metric([status], counts.get(status, 0))
    yield gauge


def digest_metrics() -> Iterator[Metric]:
    counts = dict(_grouped(Digest.status))
    gauge = GaugeMetricFamily("updates_digests", "Digests by status.", labels=["status"])
    for status in DIGEST_STATUSES:
        gauge.add_metric([status], counts.get(status, 0))
    yield gauge


def queue_metrics(pipeline: Pipeline) -> Callable[[list], Iterator[Metric]]:
    for name in queues.ALL_QUEUES:
        queue = Queue(name, connection=queues.redis_connection())
        pipeline.llen(queue.key)
        for registry in (
            queue.started_job_registry,
            queue.scheduled_job_registry,
            queue.deferred_job_registry,
            queue.failed_job_registry,
        ):
            pipeline.zcard(registry.key)

    def families(answers: list) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "updates_queue_jobs", "RQ jobs by queue and state.", labels=["queue", "state"]
        )
        counts = iter(answers)
        for name in queues.ALL_QUEUES:
            for state in QUEUE_STATES:
                gauge.add_metric([name, state], next(counts))
        yield gauge

    return families


def redis_metrics() -> Iterator[Metric]:
    """Everything read from Redis, in one round trip."""
    with queues.redis_connection().pipeline(transaction=False) as pipeline:
        readers = [(reader(pipeline), len(pipeline)) for reader in REDIS_READERS]
        answers = pipeline.execute()
    start = 0
    for families, end in readers:
        yield from families(answers[start:end])
        start = end


REDIS_READERS = (queue_metrics, email_outcome_metrics)
SOURCES = {
    "database": (delivery_metrics, pending_email_metrics, subscriber_metrics, digest_metrics),
    "redis": (redis_metrics,),
}


class ServiceCollector(Collector):
    """Reads the service's figures at scrape time; a dependency that fails is reported as
    `updates_scrape_ok{source} 0` instead of failing the whole scrape."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "updates_scrape_ok",
            "Whether this scrape could read the figures from each source.",
            labels=["source"],
        )
        with self.app.app_context():
            for source, readers in SOURCES.items():
                try:
                    families = [family for reader in readers for family in reader()]
                except (SQLAlchemyError, RedisError) as error:
                    log.warning("metrics: %s did not answer: %s", source, type(error).__name__)
                    db.session.rollback()
                    ok.add_metric([source], 0)
                    continue
                finally:
                    db.session.remove()
                ok.add_metric([source], 1)
                yield from families
        yield ok
