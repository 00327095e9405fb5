"""Importing subscribers from a CSV: streamed, one set-based write per chunk, safe to repeat.

An import asserts consent gathered elsewhere, so it never overrides a person's own choice:
suppressed and erased addresses are skipped, and so are people who unsubscribed, whatever their
status says since, until they confirm again.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any, TextIO

from sqlalchemy import ARRAY, JSON, ColumnElement, Table, any_, bindparam, insert, select, update

from updates.addresses import InvalidAddress, address_hash, address_key, normalise_address
from updates.extensions import db
from updates.models import (
    ConsentEvent,
    Frequency,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Suppression,
    Topic,
    utcnow,
)
from updates.subscribers import consent
from updates.subscribers.consent import Action, Source
from updates.subscribers.lookup import left_without_confirming_since
from updates.transaction import transaction

CHUNK = 5000  # rows a transaction: larger chunks cost fewer round trips, up to about this
IMPORTABLE = {SubscriberStatus.PENDING, SubscriberStatus.ACTIVE}


class ImportProblem(ValueError):
    """The file or the options cannot be imported."""


@dataclass
class ImportReport:
    imported: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(
        default_factory=lambda: {"invalid": 0, "suppressed": 0, "unsubscribed": 0, "duplicate": 0}
    )

    def summary(self) -> str:
        skipped = ", ".join(f"{count} {why}" for why, count in self.skipped.items() if count)
        return (
            f"imported {self.imported}, already subscribed {self.unchanged}, "
            f"skipped {sum(self.skipped.values())}" + (f" ({skipped})" if skipped else "")
        )


def read_addresses(stream: TextIO) -> Iterator[str]:
    reader = csv.DictReader(stream)
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    if "email" not in columns:
        raise ImportProblem("the CSV needs a header row with an 'email' column")
    for row in reader:
        yield (row.get(columns["email"]) or "").strip()


Progress = Callable[[int, ImportReport], None]


def import_subscribers(
    addresses: Iterable[str],
    topic_slugs: list[str],
    consent_text: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Make these addresses active subscribers of these topics, a chunk per transaction.

    `progress`, if given, is called after each committed chunk with its number of rows and the
    report so far.
    """
    topics = list(db.session.scalars(select(Topic).where(Topic.slug.in_(topic_slugs))))
    missing = set(topic_slugs) - {topic.slug for topic in topics}
    if missing:
        raise ImportProblem(f"no such topic: {', '.join(sorted(missing))}")
    if not consent_text.strip():
        raise ImportProblem("--consent must say on what basis these people agreed to be emailed")
    with transaction():
        statement_id = consent.statement_for(consent_text.strip()).id
    report = ImportReport()
    seen: set[str] = set()
    iterator = iter(addresses)
    while chunk := list(islice(iterator, CHUNK)):
        with transaction():
            _import_chunk(chunk, topics, statement_id, report, seen)
        if progress is not None:
            progress(len(chunk), report)
    return report


def _valid_unique(chunk: list[str], report: ImportReport, seen: set[str]) -> dict[str, str]:
    """key → normalised address for the chunk's valid addresses not seen before."""
    valid: dict[str, str] = {}
    for raw in chunk:
        try:
            address = normalise_address(raw)
        except InvalidAddress:
            report.skipped["invalid"] += 1
            continue
        key = address_key(address)
        if key in seen:
            report.skipped["duplicate"] += 1
            continue
        seen.add(key)
        valid[key] = address
    return valid


def _import_chunk(
    chunk: list[str],
    topics: list[Topic],
    statement_id: int,
    report: ImportReport,
    seen: set[str],
) -> None:
    valid = _valid_unique(chunk, report, seen)
    hashes = {address_hash(key): key for key in valid}
    suppressed = db.session.scalars(
        select(Suppression.email_hash).where(_among(Suppression.email_hash, list(hashes)))
    )
    for hashed in suppressed:
        del valid[hashes[hashed]]
        report.skipped["suppressed"] += 1

    existing = {
        row.email_key: row
        for row in db.session.execute(
            select(
                Subscriber.id,
                Subscriber.email_key,
                Subscriber.status,
                left_without_confirming_since().label("left"),
            ).where(_among(Subscriber.email_key, list(valid)))
        )
    }
    for key, row in existing.items():
        if row.status == SubscriberStatus.UNSUBSCRIBED or (
            row.status == SubscriberStatus.PENDING and row.left
        ):
            del valid[key]
            report.skipped["unsubscribed"] += 1
        elif row.status not in IMPORTABLE:
            del valid[key]
            report.skipped["suppressed"] += 1

    now = utcnow()
    new_rows = [
        {
            "email": address,
            "email_key": key,
            "status": SubscriberStatus.ACTIVE,
            "token_version": 1,
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
        }
        for key, address in valid.items()
        if key not in existing
    ]
    if new_rows:
        _insert_rows(Subscriber.__table__, new_rows)
    ids = dict(
        db.session.execute(
            select(Subscriber.email_key, Subscriber.id).where(
                _among(Subscriber.email_key, list(valid))
            )
        ).all()
    )
    pending = [
        ids[key]
        for key, row in existing.items()
        if key in valid and row.status == SubscriberStatus.PENDING
    ]
    if pending:
        db.session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(pending))
            .values(status=SubscriberStatus.ACTIVE, confirmed_at=now, updated_at=now)
        )
    have = {
        (sid, tid)
        for sid, tid in db.session.execute(
            select(Subscription.subscriber_id, Subscription.topic_id).where(
                _among(Subscription.subscriber_id, list(ids.values())),
                Subscription.topic_id.in_([t.id for t in topics]),
            )
        )
    }
    wanted = [
        (sid, topic) for sid in ids.values() for topic in topics if (sid, topic.id) not in have
    ]
    if wanted:
        _insert_rows(
            Subscription.__table__,
            [
                {
                    "subscriber_id": sid,
                    "topic_id": topic.id,
                    "frequency": Frequency.EVERY_ANNOUNCEMENT,
                    "created_at": now,
                }
                for sid, topic in wanted
            ],
        )
    changed: dict[int, list[str]] = {}
    for sid, topic in wanted:
        changed.setdefault(sid, []).append(topic.slug)
    if changed:
        _insert_rows(
            ConsentEvent.__table__,
            [
                {
                    "subscriber_id": sid,
                    "action": Action.IMPORTED,
                    "source": Source.IMPORT,
                    "topics": sorted(slugs),
                    "statement_id": statement_id,
                    "created_at": now,
                }
                for sid, slugs in changed.items()
            ],
        )
    report.imported += len(changed)
    report.unchanged += len(ids) - len(changed)


def _among(column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
    """`column IN values`: on PostgreSQL as `= ANY(array)`, one parameter however many values,
    where thousands of placeholders cost more to prepare than the query takes to run."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def _insert_rows(table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL, where one INSERT per
    row would cost most of an import's time; the driver's executemany elsewhere."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    as_json = [n for n, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    quoted = ", ".join(f'"{name}"' for name in columns)
    values_of = itemgetter(*columns)
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            values = list(values_of(row))
            for n in as_json:
                values[n] = json.dumps(values[n])
            copy.write_row(values)
