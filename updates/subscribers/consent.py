"""Consent evidence (UK GDPR Art. 7(1)): who did what, when, through what, having seen what."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from updates.addresses import truncate_ip
from updates.extensions import db
from updates.models import ConsentEvent, ConsentStatement, Subscriber, utcnow
from updates.transaction import autocommit


class Source:
    FORM = "form"
    EMBED = "embed"
    LINK = "link"
    ONE_CLICK = "one-click"
    IMPORT = "import"
    STAFF = "staff"
    API = "api"
    RETENTION = "retention"  # the service itself, at the end of a retention period


class Action:
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    TOPICS_CHANGED = "changed-topics"
    UNSUBSCRIBED = "unsubscribed"
    IMPORTED = "imported"
    ADDED = "added"  # by staff, by hand, on a basis they give
    ERASED = "erased"
    FORGOTTEN = "forgotten"  # the address reduced to its hash, UNSUBSCRIBED_RETENTION_DAYS on


@dataclass(frozen=True)
class Evidence:
    source: str
    ip: str | None = None
    user_agent: str | None = None

    @classmethod
    def from_request(cls, source: str) -> Evidence:
        agent = request.headers.get("User-Agent", "")[:255] or None
        return cls(source=source, ip=truncate_ip(request.remote_addr), user_agent=agent)


def statement_text() -> str:
    """The consent wording shown beside the sign-up button now."""
    return current_app.config["CONSENT_STATEMENT"].format(org=current_app.config["ORG_NAME"])


def statement_for(text: str) -> ConsentStatement:
    """The stored version of this wording, stored now if it is new."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    query = select(ConsentStatement).where(ConsentStatement.digest == digest)
    statement = db.session.scalar(query)
    if statement is not None:
        return statement
    try:
        with db.session.begin_nested():
            statement = ConsentStatement(digest=digest, text=text)
            db.session.add(statement)
    except IntegrityError:
        statement = db.session.scalar(query)
    return statement


def statement_id(text: str) -> int:
    """The id of this wording's stored version, remembered per process: the rows never change."""
    known = current_app.extensions.setdefault("updates.consent_statement_ids", {})
    if text not in known:
        known[text] = _stored_statement_id(text)
    return known[text]


@autocommit
def _stored_statement_id(text: str) -> int:
    return statement_for(text).id


def record(
    subscriber: Subscriber,
    action: str,
    evidence: Evidence,
    topics: Iterable[str] = (),
    statement: ConsentStatement | None = None,
    at: datetime | None = None,
) -> ConsentEvent:
    """Append a consent event (made now, unless `at` says when); the caller commits it."""
    event = ConsentEvent(
        subscriber=subscriber,
        action=action,
        source=evidence.source,
        topics=sorted(topics),
        statement=statement,
        ip=evidence.ip,
        user_agent=evidence.user_agent,
        created_at=at or utcnow(),
    )
    db.session.add(event)
    return event
