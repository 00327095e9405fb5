"""Figures each process counts for itself: request latency, SMTP round trips, sign-ups.

They are prometheus_client's own metrics. Under gunicorn (and in a worker with
WORKER_METRICS_PORT) PROMETHEUS_MULTIPROC_DIR makes every process write them to files that
one scrape adds up. What describes the whole service is read at scrape time instead
(updates/service_metrics.py).

A worker forks a work horse for every newsletter batch. Named by pid, each horse would leave
a file of its own behind, thousands a day, all read at every scrape; the horses of a worker
(one at a time) share one file instead, which each goes on counting from. The worker's other
children, its periodic ticker and RQ's scheduler, count nothing, so never write to it.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server, values
from prometheus_client.multiprocess import MultiProcessCollector

_worker = {"pid": 0}  # set by the worker process before it forks horses


def _process_identifier() -> str:
    pid, worker = os.getpid(), _worker["pid"]
    return f"{worker}-horse" if worker and pid != worker else str(pid)


def multiprocess_mode() -> bool:
    """Whether PROMETHEUS_MULTIPROC_DIR put prometheus_client in multiprocess mode."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


if multiprocess_mode():  # before the first metric below is made
    values.ValueClass = values.MultiProcessValue(_process_identifier)

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


def serve_for_worker(address: str, port: int) -> None:
    """The worker's own figures (SMTP round trips, its horses' too) on a small HTTP port."""
    _worker["pid"] = os.getpid()
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(port, addr=address, registry=registry)


def register(app: Flask) -> None:
    """Time every request the app answers."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
