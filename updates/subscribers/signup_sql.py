"""Every sign-up's write, in one statement and without the ORM.

For an address never seen before there is nothing to decide: a pending subscriber, the request,
the consent event and the confirmation email owed. For a known (or suppressed) address what it
gets depends on its status, and finding that out takes several queries; doing them here would
make its answer measurably slower than a new address's, and so reveal who subscribes. So the
same statement writes the sign-up as sent into deferred_signups instead, and a worker decides
(signup.decide_deferred). PostgreSQL writes all of it in one autocommitted statement; SQLite,
whose WITH cannot hold an INSERT, in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection, bindparam, insert, text

from updates.addresses import address_hash, address_key
from updates.extensions import db
from updates.models import (
    ConsentEvent,
    DeferredSignup,
    EmailKind,
    EmailState,
    OutboundEmail,
    SignupRequest,
    SubscriberStatus,
    Topic,
    utcnow,
)
from updates.news.topics import OfferedTopic
from updates.subscribers.consent import Action, Evidence

# The subscriber, unless the address is suppressed (NOT EXISTS) or already known (ON CONFLICT).
NEW_SUBSCRIBER = """
    INSERT INTO subscribers (email, email_key, status, token_version, created_at, updated_at)
    SELECT :email, :email_key, :status, 1, :now, :now
    WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE email_hash = :email_hash)
    ON CONFLICT (email_key) DO NOTHING
    RETURNING id
"""

# PostgreSQL: the request, the event and the email follow from the subscriber row, if there is one.
ALL_IN_ONE = text(
    f"""
    WITH subscriber AS ({NEW_SUBSCRIBER}),
    request AS (
        INSERT INTO signup_requests (subscriber_id, topic_ids, statement_id, created_at)
        SELECT id, CAST(:topic_ids AS JSON), :statement_id, :now FROM subscriber
        RETURNING id, subscriber_id
    ),
    event AS (
        INSERT INTO consent_events
            (subscriber_id, action, source, topics, statement_id, ip, user_agent, created_at)
        SELECT id, :action, :source, CAST(:slugs AS JSON), :statement_id, :ip, :user_agent, :now
        FROM subscriber
    ),
    email AS (
        INSERT INTO outbound_emails
            (kind, subscriber_id, signup_request_id, state, attempts, created_at)
        SELECT :kind, subscriber_id, id, :state, 0, :now FROM request
        RETURNING id
    ),
    deferred AS (
        INSERT INTO deferred_signups
            (email, topic_ids, statement_id, source, ip, user_agent, created_at)
        SELECT :email, CAST(:topic_ids AS JSON), :statement_id, :source, :ip, :user_agent, :now
        WHERE NOT EXISTS (SELECT 1 FROM subscriber)
        RETURNING id
    )
    SELECT (SELECT id FROM email), (SELECT id FROM deferred)
    """
).bindparams(bindparam("topic_ids", type_=JSON), bindparam("slugs", type_=JSON))


@dataclass(frozen=True)
class Written:
    email_id: int | None = None  # a new address: the confirmation email owed
    deferred_id: int | None = None  # a known or suppressed one: the sign-up a worker decides


def write_signup(
    address: str,
    topics: Sequence[Topic | OfferedTopic],
    evidence: Evidence,
    statement_id: int,
) -> Written:
    """Write the sign-up: a new address's in full, a known address's for a worker to decide."""
    values = {
        "email": address,
        "email_key": address_key(address),
        "email_hash": address_hash(address),
        "status": SubscriberStatus.PENDING,
        "now": utcnow(),
        "topic_ids": [topic.id for topic in topics],
        "slugs": sorted(topic.slug for topic in topics),
        "statement_id": statement_id,
        "action": Action.REQUESTED,
        "source": evidence.source,
        "ip": evidence.ip,
        "user_agent": evidence.user_agent,
        "kind": EmailKind.CONFIRM,
        "state": EmailState.PENDING,
    }
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            email_id, deferred_id = connection.execute(ALL_IN_ONE, values).one()
            return Written(email_id, deferred_id)
    with db.engine.begin() as connection:
        return _one_row_at_a_time(connection, values)


def _one_row_at_a_time(connection: Connection, values: dict[str, Any]) -> Written:
    subscriber_id = connection.execute(text(NEW_SUBSCRIBER), values).scalar()
    if subscriber_id is None:
        deferred_id = connection.execute(
            insert(DeferredSignup)
            .values(
                email=values["email"],
                topic_ids=values["topic_ids"],
                statement_id=values["statement_id"],
                source=values["source"],
                ip=values["ip"],
                user_agent=values["user_agent"],
                created_at=values["now"],
            )
            .returning(DeferredSignup.id)
        ).scalar_one()
        return Written(deferred_id=deferred_id)
    request_id = connection.execute(
        insert(SignupRequest)
        .values(
            subscriber_id=subscriber_id,
            topic_ids=values["topic_ids"],
            statement_id=values["statement_id"],
            created_at=values["now"],
        )
        .returning(SignupRequest.id)
    ).scalar_one()
    connection.execute(
        insert(ConsentEvent).values(
            subscriber_id=subscriber_id,
            action=values["action"],
            source=values["source"],
            topics=values["slugs"],
            statement_id=values["statement_id"],
            ip=values["ip"],
            user_agent=values["user_agent"],
            created_at=values["now"],
        )
    )
    email_id = connection.execute(
        insert(OutboundEmail)
        .values(
            kind=values["kind"],
            subscriber_id=subscriber_id,
            signup_request_id=request_id,
            created_at=values["now"],
        )
        .returning(OutboundEmail.id)
    ).scalar_one()
    return Written(email_id=email_id)
