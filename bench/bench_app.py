"""Experiments for the sign-up benchmarks, applied to the app at start-up by monkeypatching.

They exist so that a proposed change to updates/ can be measured before anyone makes it; they
are never used outside bench/. `create_app()` reads BENCH_VARIANTS (comma-separated names
from VARIANTS below), applies them, and builds the app; gunicorn runs it as
`bench_app:create_app()` with `--pythonpath bench` when signup_load.py gets `--variant`.

Some are proposals (each says what the real change would be), others only measure what a
part costs by taking it away (marked "measure only": they are not safe to ship).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from inspect import signature as inspect_signature
from typing import Any

from flask import Flask
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, make_transient_to_detached


def _no_pre_ping() -> dict[str, object]:
    """Proposal: drop `pool_pre_ping` (one `SELECT 1` round trip per checked-out connection);
    keep resilience with `pool_recycle` and psycopg's own error on a dead connection."""
    return {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False, "pool_recycle": 1800}}


def _no_limit_headers() -> dict[str, object]:
    """Proposal (adopted in 0136b38): RATELIMIT_HEADERS_ENABLED = False; the X-RateLimit-*
    headers cost two Redis commands per POST (get_window_stats) and no browser reads them."""
    return {"RATELIMIT_HEADERS_ENABLED": False}


def _no_limits() -> dict[str, object]:
    """Measure only: the rate limiter switched off, to see what it costs in all."""
    return {"RATELIMIT_ENABLED": False}


def _cache_statement() -> dict[str, object]:
    """Proposal: remember the consent statement's id per wording in the process (rows are
    append-only and keyed by the wording's digest, so the mapping never changes) instead of a
    SELECT per sign-up."""
    from updates import consent
    from updates.extensions import db
    from updates.models import ConsentStatement

    original = consent.statement_for
    known: dict[str, int] = {}

    def statement_for(text: str) -> ConsentStatement:
        statement_id = known.get(text)
        if statement_id is None:
            statement = original(text)
            db.session.flush()
            known[text] = statement.id
            return statement
        detached = ConsentStatement(
            id=statement_id, digest=hashlib.sha256(text.encode()).hexdigest(), text=text
        )
        make_transient_to_detached(detached)
        return db.session.merge(detached, load=False)

    consent.statement_for = statement_for
    return {}


def _cache_topics(ttl: float = 10.0) -> Callable[[], dict[str, object]]:
    def apply() -> dict[str, object]:
        """Proposal: keep the public topics in the process for a few seconds (read on every GET
        and POST of the form, changed by staff a few times a year); a topic added or archived
        shows on the form within the TTL."""
        from updates import topics
        from updates.extensions import db
        from updates.public import views

        lock = threading.Lock()
        cached: list[Any] = []
        loaded_at = [0.0]

        def public_topics() -> list[Any]:
            with lock:
                if time.monotonic() - loaded_at[0] > ttl:
                    topic = topics.Topic
                    query = (
                        select(topic)
                        .where(topic.public.is_(True), topic.archived.is_(False))
                        .order_by(topic.position, topic.name)
                    )
                    with Session(db.engine) as session:
                        rows = list(session.scalars(query))
                        session.expunge_all()
                    cached[:] = rows
                    loaded_at[0] = time.monotonic()
                return list(cached)

        views.public_topics = public_topics
        return {}

    return apply


class _EmailId:
    def __init__(self, email_id: int) -> None:
        self.id = email_id


def _returns_id() -> bool:
    """Whether request_signup() returns the email's id (since 0136b38) or the row (before)."""
    from updates import signup

    return "int" in str(inspect_signature(signup.request_signup).return_annotation)


def _email_result(email_id: int) -> Any:
    """What the view expects back from request_signup() for this email id."""
    return email_id if _returns_id() else _EmailId(email_id)


def _no_refresh() -> dict[str, object]:
    """Proposal (adopted in 0136b38): read the new email's id before the commit; the view's
    `email.id` after the commit reloaded the whole row: BEGIN, SELECT and a ROLLBACK at
    teardown, three round trips. A no-op on code that already returns the id."""
    from updates.public import views

    original = views.request_signup
    if _returns_id():
        return {}

    def request_signup(*args: Any, **kwargs: Any) -> Any:
        email = original(*args, **kwargs)
        return None if email is None else _EmailId(inspect(email).identity[0])

    views.request_signup = request_signup
    return {}


def _upsert_subscriber() -> dict[str, object]:
    """Proposal: find_or_create as one `INSERT .. ON CONFLICT (email_key) DO NOTHING
    RETURNING *` (then a SELECT only when the address exists) instead of SELECT, SAVEPOINT,
    INSERT, RELEASE SAVEPOINT: three fewer round trips for a new address."""
    from sqlalchemy.dialects.postgresql import insert

    from updates import signup, subscribers
    from updates.addresses import address_key
    from updates.extensions import db
    from updates.models import Subscriber, SubscriberStatus

    def find_or_create(address: str) -> Subscriber:
        statement = (
            insert(Subscriber)
            .values(email=address, email_key=address_key(address), status=SubscriberStatus.PENDING)
            .on_conflict_do_nothing(index_elements=["email_key"])
            .returning(Subscriber)
        )
        created = db.session.scalar(statement)
        return created if created is not None else subscribers.find_by_address(address)

    signup.find_or_create = find_or_create
    return {}


CORE_SIGNUP = text(
    """
    WITH s AS (
        INSERT INTO subscribers (email, email_key, status, token_version, created_at, updated_at)
        VALUES (:email, :email_key, 'pending', 1, :now, :now)
        ON CONFLICT (email_key) DO NOTHING
        RETURNING id
    ), r AS (
        INSERT INTO signup_requests (subscriber_id, topic_ids, statement_id, created_at)
        SELECT id, CAST(:topic_ids AS json), :statement_id, :now FROM s
        RETURNING id, subscriber_id
    ), c AS (
        INSERT INTO consent_events
            (subscriber_id, action, source, topics, statement_id, ip, user_agent, created_at)
        SELECT id, 'requested', :source, CAST(:slugs AS json), :statement_id, :ip, :agent, :now
        FROM s
    )
    INSERT INTO outbound_emails
        (kind, subscriber_id, signup_request_id, state, attempts, created_at)
    SELECT 'confirm', subscriber_id, id, 'pending', 0, :now FROM r
    RETURNING id
    """
)


def _core_signup() -> dict[str, object]:
    """Proposal: a new address's sign-up written in one SQL statement (a CTE inserting the
    subscriber, its request, the consent event and the outbound email) instead of the ORM's
    unit of work; an address already known takes today's path. Implies cache-statement."""
    from updates import consent
    from updates.addresses import address_key
    from updates.extensions import db
    from updates.models import utcnow
    from updates.public import views
    from updates.subscribers import is_suppressed

    original = views.request_signup
    statements: dict[str, int] = {}

    def request_signup(address: str, topics: list[Any], evidence: Any) -> Any:
        text_shown = consent.statement_text()
        if text_shown not in statements:
            statements[text_shown] = consent.statement_for(text_shown).id
            db.session.commit()
        if is_suppressed(address):
            db.session.rollback()
            return None
        row = db.session.execute(
            CORE_SIGNUP,
            {
                "email": address,
                "email_key": address_key(address),
                "now": utcnow(),
                "topic_ids": json.dumps([topic.id for topic in topics]),
                "slugs": json.dumps(sorted(topic.slug for topic in topics)),
                "statement_id": statements[text_shown],
                "source": evidence.source,
                "ip": evidence.ip,
                "agent": evidence.user_agent,
            },
        ).first()
        if row is None:  # the address is known: today's path decides what it gets
            db.session.rollback()
            return original(address, topics, evidence)
        db.session.commit()
        return _email_result(row[0])

    views.request_signup = request_signup
    return {}


def _no_enqueue() -> dict[str, object]:
    """Measure only: no RQ job at sign-up (the sweeper still sends the email a minute later),
    to see what enqueueing costs."""
    from updates import outbox

    outbox.dispatch = lambda email_id: True
    return {}


def _no_signup_work() -> dict[str, object]:
    """Measure only: the view validates the form and answers, but writes nothing and enqueues
    nothing (combine with cache-topics and no-limits for the floor of Flask, CSRF, the form
    and the page on gunicorn). Every sign-up is then "lost" by design."""
    from updates.public import views

    views.request_signup = lambda *args, **kwargs: None
    return {}


VARIANTS: dict[str, Callable[[], dict[str, object]]] = {
    "no-pre-ping": _no_pre_ping,
    "no-limit-headers": _no_limit_headers,
    "no-limits": _no_limits,
    "cache-statement": _cache_statement,
    "cache-topics": _cache_topics(),
    "no-refresh": _no_refresh,
    "upsert-subscriber": _upsert_subscriber,
    "core-signup": _core_signup,
    "no-enqueue": _no_enqueue,
    "no-signup-work": _no_signup_work,
}
# The proposals together (not the measure-only ones).
VARIANTS_ALL = (
    "no-pre-ping",
    "no-limit-headers",
    "cache-statement",
    "cache-topics",
    "no-refresh",
    "upsert-subscriber",
)


def apply(names: list[str]) -> dict[str, object]:
    """Apply these experiments; return the config overrides they need."""
    overrides: dict[str, object] = {}
    for name in names:
        if name == "all":
            overrides.update(apply(list(VARIANTS_ALL)))
        elif name not in VARIANTS:
            raise SystemExit(f"unknown variant {name!r}; known: all, {', '.join(VARIANTS)}")
        else:
            overrides.update(VARIANTS[name]())
    return overrides


def create_app() -> Flask:
    from updates import create_app as create_updates_app

    names = [name.strip() for name in os.environ.get("BENCH_VARIANTS", "").split(",")]
    overrides = apply([name for name in names if name])
    return create_updates_app(overrides)
