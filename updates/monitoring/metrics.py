"""GET /metrics: the Prometheus text format, for loopback clients and a bearer METRICS_TOKEN.

Loopback means the TCP peer is on this machine and no proxy says it forwarded the request: a
reverse proxy on the same host would otherwise make every outside request look local.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from updates.instruments import multiprocess_mode
from updates.service_metrics import ServiceCollector

from . import blueprint

FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def _from_loopback() -> bool:
    if any(header in request.headers for header in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _bearer_matches(expected: str) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    given = token.strip().encode()
    return (
        bool(expected)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given, expected.encode())
    )


def process_registry() -> CollectorRegistry:
    """This process's own metrics, or every process's under PROMETHEUS_MULTIPROC_DIR."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


@blueprint.get("/metrics")
def metrics() -> Response:
    if not (_from_loopback() or _bearer_matches(current_app.config["METRICS_TOKEN"])):
        return Response("Forbidden\n", 403, mimetype="text/plain")
    service = CollectorRegistry()
    service.register(ServiceCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
    body = generate_latest(process_registry()) + generate_latest(service)
    return Response(
        body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    )
