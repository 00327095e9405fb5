"""Figures each process counts for itself: request latency, SMTP round trips, sign-ups.

They are prometheus_client's own metrics. Under gunicorn (and in a worker with
WORKER_METRICS_PORT) PROMETHEUS_MULTIPROC_DIR makes every process write them to files that
one scrape adds up. What describes the whole service is read at scrape time instead
(updates/service_metrics.py).
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "updates_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SMTP_SECONDS = Histogram(
    "updates_smtp_round_trip_seconds",
    "From a message's final dot to the relay's answer.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SIGNUPS = Counter(
    "updates_signups",  # exposed as updates_signups_total
    "Sign-up submissions by outcome (accepted, invalid, rate_limited, bot), and confirmations.",
    ["outcome"],
)

ACCEPTED, INVALID, RATE_LIMITED, BOT, CONFIRMED = (
    "accepted",
    "invalid",
    "rate_limited",
    "bot",
    "confirmed",
)


def count_signup(outcome: str) -> None:
    SIGNUPS.labels(outcome).inc()


def _start_timer() -> None:
    g.updates_request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("updates_request_started", None)
    if started is not None:
        # The rule's endpoint, never the path: paths carry tokens and ids without end.
        endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
        REQUEST_SECONDS.labels(endpoint, request.method).observe(time.perf_counter() - started)
    return response


def register(app: Flask) -> None:
    """Time every request the app answers."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
