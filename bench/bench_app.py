"""Experiments for the sign-up benchmarks, applied to the app at start-up by monkeypatching.

They exist so that a proposed change to updates/ can be measured before anyone makes it; they
are never used outside bench/. `create_app()` reads BENCH_VARIANTS (comma-separated names
from VARIANTS below), applies them, and builds the app; gunicorn runs it as
`bench_app:create_app()` with `--pythonpath bench` when signup_load.py gets `--variant`.

The proposals measured here so far have all been adopted in updates/ (docs/benchmarks.md,
"Sign-up load", lists them); what is left only measures what a part costs by taking it away
(not safe to ship: each loses or weakens something on purpose).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from flask import Flask


def _no_limits() -> dict[str, object]:
    """Measure only: the rate limits switched off, to see what they cost in all."""
    return {"RATELIMIT_ENABLED": False}


def _no_enqueue() -> dict[str, object]:
    """Measure only: no RQ job at sign-up (the sweeper still sends the email a minute later),
    to see what enqueueing costs."""
    from updates.mail import outbox

    outbox.dispatch_signup = lambda email_id, deferred_id: True
    return {}


def _no_signup_work() -> dict[str, object]:
    """Measure only: the view validates the form and answers, but writes nothing and enqueues
    nothing (combine with no-limits for the floor of Flask, CSRF, the form and the page on
    gunicorn). Every sign-up is then "lost" by design."""
    from updates.public import views
    from updates.subscribers.signup_sql import Written

    views.request_signup = lambda *args, **kwargs: Written()
    views.outbox.dispatch_signup = lambda email_id, deferred_id: True
    return {}


VARIANTS: dict[str, Callable[[], dict[str, object]]] = {
    "no-limits": _no_limits,
    "no-enqueue": _no_enqueue,
    "no-signup-work": _no_signup_work,
}


def apply(names: list[str]) -> dict[str, object]:
    """Apply these experiments; return the config overrides they need."""
    overrides: dict[str, object] = {}
    for name in names:
        if name not in VARIANTS:
            raise SystemExit(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
        overrides.update(VARIANTS[name]())
    return overrides


def create_app() -> Flask:
    from updates import create_app as create_updates_app

    names = [name.strip() for name in os.environ.get("BENCH_VARIANTS", "").split(",")]
    overrides = apply([name for name in names if name])
    return create_updates_app(overrides)
