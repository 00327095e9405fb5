"""Liveness and readiness, for load balancers and orchestrators polling every second."""

from __future__ import annotations

from flask import Response, jsonify

from updates import health

from . import blueprint

NO_STORE = {"Cache-Control": "no-store"}


@blueprint.get("/healthz")
def healthz() -> Response:
    """200 while the process answers requests; it looks at nothing else."""
    response = jsonify(status="ok")
    response.headers.update(NO_STORE)
    return response


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]]:
    """200 when the database and Redis answer in time; 503 naming the check that failed."""
    answer = health.readiness()
    return jsonify(answer), 503 if answer.get("failed") else 200, NO_STORE
