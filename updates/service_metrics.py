"""Figures about the whole service, read from the database and Redis when Prometheus scrapes.

Workers run on many machines and any of them may send any delivery, so no process can count
these for itself: the ledger, the outbox, the subscriber list and RQ's registries are the
truth, and each scrape reads them with a few GROUP BYs over indexed columns
(docs/benchmarks.md has what a scrape costs on a million-row ledger).

A `_total` only ever grows: it counts final outcomes (a delivery sent, failed or skipped; an
email sent, failed or cancelled). What is still pending is a gauge beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from flask import Flask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
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
IN_PROGRESS = (DigestStatus.SENDING, DigestStatus.PAUSED)
QUEUE_STATES = ("queued", "started", "scheduled", "deferred", "failed")


def _grouped(*columns, where=None) -> list[tuple]:
    query = select(*columns, func.count()).group_by(*columns)
    if where is not None:
        query = query.where(where)
    return [tuple(row) for row in db.session.execute(query)]


def delivery_metrics() -> Iterator[Metric]:
    counts = dict(_grouped(Delivery.status))
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


def email_metrics() -> Iterator[Metric]:
    total = CounterMetricFamily(
        "updates_emails",
        "Transactional emails by kind and final outcome.",
        labels=["kind", "status"],
    )
    pending = GaugeMetricFamily(
        "updates_emails_pending", "Transactional emails owed and not yet sent.", labels=["kind"]
    )
    for kind, state, count in _grouped(OutboundEmail.kind, OutboundEmail.state):
        if state in FINAL_EMAIL:
            total.add_metric([kind, state], count)
        else:
            pending.add_metric([kind], count)
    yield total
    yield pending


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
    progress = GaugeMetricFamily(
        "updates_digest_deliveries",
        "Deliveries of each digest being sent or paused, by status: its progress.",
        labels=["digest", "status"],
    )
    active = select(Digest.id).where(Digest.status.in_(IN_PROGRESS)).scalar_subquery()
    for digest_id, status, count in _grouped(
        Delivery.digest_id, Delivery.status, where=Delivery.digest_id.in_(active)
    ):
        progress.add_metric([str(digest_id), status], count)
    yield progress


def queue_metrics() -> Iterator[Metric]:
    gauge = GaugeMetricFamily(
        "updates_queue_jobs", "RQ jobs by queue and state.", labels=["queue", "state"]
    )
    connection = queues.redis_connection()
    with connection.pipeline(transaction=False) as pipeline:  # one round trip for them all
        for name in queues.ALL_QUEUES:
            queue = Queue(name, connection=connection)
            pipeline.llen(queue.key)
            for registry in (
                queue.started_job_registry,
                queue.scheduled_job_registry,
                queue.deferred_job_registry,
                queue.failed_job_registry,
            ):
                pipeline.zcard(registry.key)
        counts = iter(pipeline.execute())
    for name in queues.ALL_QUEUES:
        for state in QUEUE_STATES:
            gauge.add_metric([name, state], next(counts))
    yield gauge


SOURCES = {
    "database": (delivery_metrics, email_metrics, subscriber_metrics, digest_metrics),
    "redis": (queue_metrics,),
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
