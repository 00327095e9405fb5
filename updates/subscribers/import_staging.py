"""Importing on PostgreSQL: the file streamed by COPY into staging tables, then set-based SQL.

Python reads and validates each row and computes its suppression hash (the key is the
service's, the database never sees it); everything else happens in the server, in a few
statements over the whole file. The staging tables are temporary and go with their
transactions, so the process holds no more than one row at a time.

The writes are mostly PostgreSQL's per-row foreign-key checks, which one connection runs on one
core. So the people are shared out by their address's hash among `WRITERS` connections, each
sorting and writing its share in a transaction of its own: every line for an address lands in
the same share, and a person's rows always commit together. Each share commits as soon as it
is written, never waiting on another: a transaction that holds up one share while it waits on
another then only waits for that one's commit, where shares committing together would hang on
it unseen by PostgreSQL's deadlock detector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from functools import partial
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Json
from sqlalchemy import text

from updates.addresses import key_hasher
from updates.extensions import db
from updates.models import Frequency, SubscriberStatus, Topic, utcnow
from updates.subscribers.consent import Action, Source
from updates.transaction import transaction

if TYPE_CHECKING:
    from updates.subscribers.importer import ImportReport, Person

# Connections writing at once: the database server's cores this import may keep busy.
WRITERS = 2
# The advisory lock that lets one import write at a time ("imports" in ASCII). Two at once with
# people in common would each sort those people as new, and the later would leave them without
# its topics, as it leaves someone who signed up meanwhile.
IMPORT_LOCK = 0x696D706F727473
# Memory for the sorts and hashes of each share, for its transaction only.
WORK_MEM = "64MB"

STAGE = """
CREATE TEMP TABLE import_rows (
    n integer, email text, email_key text, email_hash text, name text, organisation text
) ON COMMIT DROP
"""
# One row per address (its first line), what it is, and the id it has or will have. New
# people take their ids from the table's own sequence here, so no later step has to look
# them up by address again.
PEOPLE = """
CREATE TEMP TABLE import_people ON COMMIT DROP AS
SELECT email, email_key, name, organisation,
       CASE WHEN kind = 'new' THEN nextval(pg_get_serial_sequence('subscribers', 'id'))
            ELSE subscriber_id END AS subscriber_id,
       kind
FROM (
    SELECT DISTINCT ON (r.email_key COLLATE "C")
           r.email, r.email_key, r.name, r.organisation, s.id AS subscriber_id,
           CASE
               WHEN x.email_hash IS NOT NULL THEN 'suppressed'
               WHEN s.id IS NULL THEN 'new'
               WHEN s.status = %(unsubscribed)s THEN 'unsubscribed'
               WHEN s.status = %(pending)s AND EXISTS (
                   SELECT FROM consent_events l
                   WHERE l.subscriber_id = s.id AND l.action = %(left)s
                     AND NOT EXISTS (
                         SELECT FROM consent_events c
                         WHERE c.subscriber_id = s.id AND c.action = %(confirmed)s
                           AND c.id > l.id))
                   THEN 'unsubscribed'
               WHEN s.status = %(pending)s THEN 'pending'
               WHEN s.status = %(active)s THEN 'active'
               ELSE 'suppressed'
           END AS kind
    FROM import_rows r
    LEFT JOIN subscribers s ON s.email_key = r.email_key
    LEFT JOIN suppressions x ON x.email_hash = r.email_hash
    ORDER BY r.email_key COLLATE "C", r.n  -- bytes: equal keys sort together in any locale
) AS firsts
"""
NEW = """
INSERT INTO subscribers (id, email, email_key, status, token_version,
                         created_at, updated_at, confirmed_at, name, organisation)
SELECT subscriber_id, email, email_key, %(active)s, 1, %(now)s, %(now)s, %(now)s,
       name, organisation
FROM import_people WHERE kind = 'new'
ON CONFLICT (email_key) DO NOTHING
"""
# Someone who signed up while the file was staged: their own row stands, the import leaves it.
RACED = """
DELETE FROM import_people p
WHERE p.kind = 'new' AND NOT EXISTS (SELECT FROM subscribers s WHERE s.id = p.subscriber_id)
"""
CONFIRMED = """
UPDATE subscribers s SET status = %(active)s, confirmed_at = %(now)s, updated_at = %(now)s
FROM import_people p WHERE p.kind = 'pending' AND s.id = p.subscriber_id
"""
FILLED = """
UPDATE subscribers s
SET name = coalesce(s.name, p.name), organisation = coalesce(s.organisation, p.organisation),
    updated_at = %(now)s
FROM import_people p
WHERE p.kind IN ('pending', 'active') AND s.id = p.subscriber_id
  AND (s.name IS NULL AND p.name IS NOT NULL
       OR s.organisation IS NULL AND p.organisation IS NOT NULL)
"""
# New people get every topic, and an event naming them all. Without ON CONFLICT, which would
# probe the key for rows that cannot have one.
NEW_SUBSCRIBED = """
INSERT INTO subscriptions (subscriber_id, topic_id, frequency, created_at)
SELECT p.subscriber_id, t.id, %(frequency)s, %(now)s
FROM import_people p CROSS JOIN unnest(%(topic_ids)s::integer[]) AS t(id)
WHERE p.kind = 'new'
"""
NEW_EVENTS = """
INSERT INTO consent_events (subscriber_id, action, source, topics, statement_id, created_at)
SELECT subscriber_id, %(imported)s, %(import)s, %(all_topics)s, %(statement)s, %(now)s
FROM import_people WHERE kind = 'new'
"""
# People already here get the subscriptions they lack, and an event naming the topics they got.
KNOWN_SUBSCRIBED = """
WITH added AS (
    INSERT INTO subscriptions (subscriber_id, topic_id, frequency, created_at)
    SELECT p.subscriber_id, t.id, %(frequency)s, %(now)s
    FROM import_people p CROSS JOIN unnest(%(topic_ids)s::integer[]) AS t(id)
    WHERE p.kind IN ('pending', 'active')
    ON CONFLICT DO NOTHING
    RETURNING subscriber_id, topic_id
)
INSERT INTO consent_events (subscriber_id, action, source, topics, statement_id, created_at)
SELECT a.subscriber_id, %(imported)s, %(import)s, json_agg(t.slug ORDER BY t.slug),
       %(statement)s, %(now)s
FROM added a JOIN unnest(%(topic_ids)s::integer[], %(slugs)s::text[]) AS t(id, slug)
     ON t.id = a.topic_id
GROUP BY a.subscriber_id
"""


def import_staged(
    people: Iterable[Person | None],
    topics: list[Topic],
    statement_id: int,
    report: ImportReport,
    progress: Callable[[int, ImportReport], None] | None,
    every: int,
) -> None:
    """Stage the people, then subscribe them, each share in its own transaction; fills `report`.

    One import at a time: a second waits for the first to end. If a share fails, the others'
    people stay written; importing the file again finishes it.
    """
    values = _parameters(topics, statement_id)
    with transaction(), ExitStack() as stack:  # the transaction holds the lock till the end
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK})
        connections = [
            stack.enter_context(closing(db.engine.raw_connection())) for _ in range(WRITERS)
        ]
        cursors = [stack.enter_context(c.driver_connection.cursor()) for c in connections]
        for cursor in cursors:
            _prepare(cursor)
        read, staged = _stage(cursors, people, report, progress, every)
        with ThreadPoolExecutor(len(cursors)) as pool:
            shares = list(pool.map(partial(_sort_and_write, values=values), cursors))
    kinds: Counter[str] = sum((kinds for kinds, _ in shares), Counter())
    imported = sum(imported for _, imported in shares)
    report.skipped["duplicate"] += staged - kinds.total()
    for why in ("suppressed", "unsubscribed"):
        report.skipped[why] += kinds.pop(why, 0)
    report.imported += imported
    report.unchanged += kinds.total() - imported
    if progress is not None:
        progress(read, report)


def _prepare(cursor: Any) -> None:
    cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    # Compiling these plans costs more than it saves, on a table the planner cannot size.
    cursor.execute("SET LOCAL jit = off")
    cursor.execute(STAGE)


def _sort_and_write(cursor: Any, values: dict[str, Any]) -> tuple[Counter[str], int]:
    """Sort a share's people into their kinds, write them and commit; the kinds counted, and
    the number who got a subscription (and an event)."""
    cursor.execute("ANALYZE import_rows")
    cursor.execute(PEOPLE, values)
    cursor.execute("SELECT kind, count(*) FROM import_people GROUP BY kind")
    kinds = Counter(dict(cursor.fetchall()))
    imported = _write(cursor, values, kinds)
    cursor.connection.commit()
    return kinds, imported


def _parameters(topics: list[Topic], statement_id: int) -> dict[str, Any]:
    return {
        "now": utcnow(),
        "active": SubscriberStatus.ACTIVE,
        "pending": SubscriberStatus.PENDING,
        "unsubscribed": SubscriberStatus.UNSUBSCRIBED,
        "left": Action.UNSUBSCRIBED,
        "confirmed": Action.CONFIRMED,
        "imported": Action.IMPORTED,
        "import": Source.IMPORT,
        "frequency": Frequency.EVERY_ANNOUNCEMENT,
        "statement": statement_id,
        "topic_ids": [topic.id for topic in topics],
        "slugs": [topic.slug for topic in topics],
        "all_topics": Json(sorted(topic.slug for topic in topics)),
    }


def _write(cursor: Any, values: dict[str, Any], kinds: Counter[str]) -> int:
    """Write the people of each kind; the number who got a subscription (and an event)."""
    known = kinds.get("pending", 0) + kinds.get("active", 0)
    cursor.execute(NEW, values)
    if cursor.rowcount < kinds.get("new", 0):
        cursor.execute(RACED)
    if kinds.get("pending"):
        cursor.execute(CONFIRMED, values)
    if known:
        cursor.execute(FILLED, values)
    cursor.execute(NEW_SUBSCRIBED, values)
    cursor.execute(NEW_EVENTS, values)
    imported = cursor.rowcount
    if known:
        cursor.execute(KNOWN_SUBSCRIBED, values)
        imported += cursor.rowcount
    return imported


def _stage(
    cursors: list[Any],
    people: Iterable[Person | None],
    report: ImportReport,
    progress: Callable[[int, ImportReport], None] | None,
    every: int,
) -> tuple[int, int]:
    """COPY the valid rows into each cursor's import_rows, shared out by their suppression
    hashes, which they carry; count the invalid.

    Returns the rows read since the last progress call (the caller makes the last one, once
    the rows are written) and the rows staged.
    """
    hashed = key_hasher()
    staged = unreported = 0
    with ExitStack() as stack:
        copies = [stack.enter_context(c.copy("COPY import_rows FROM STDIN")) for c in cursors]
        for n, person in enumerate(people):
            if unreported == every:
                if progress is not None:
                    progress(unreported, report)
                unreported = 0
            unreported += 1
            if person is None:
                report.skipped["invalid"] += 1
                continue
            address, key, name, organisation = person
            email_hash = hashed(key)
            copies[share_of(email_hash, len(copies))].write_row(
                (n, address, key, email_hash, name, organisation)
            )
            staged += 1
    return unreported, staged


def share_of(email_hash: str, shares: int) -> int:
    """Which of `shares` an address goes to, by its suppression hash (hex)."""
    return int(email_hash[-2:], 16) % shares
