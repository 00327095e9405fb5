"""Importing subscribers from a CSV: read and checked a row at a time, safe to repeat.

PostgreSQL writes the whole file through a staging table (`import_staging`); other databases
(SQLite, in development and tests) write it a chunk per transaction, here.

An import asserts consent gathered elsewhere, so it never overrides a person's own choice:
suppressed and erased addresses are skipped, and so are people who unsubscribed, whatever their
status says since, until they confirm again.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from sqlalchemy import bindparam, insert, select, update

from updates import limits
from updates.addresses import InvalidAddress, address_hash, address_key, normalise_address
from updates.edge import problem
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
from updates.subscribers.import_staging import import_staged
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


Row = tuple[str, str, str]  # email, name, organisation, as the file gives them ("" if absent)
Person = tuple[str, str, str | None, str | None]  # address, key, name, organisation
ATTRIBUTES = {"name": limits.SUBSCRIBER_NAME, "organisation": limits.SUBSCRIBER_ORGANISATION}
SPELLINGS = {"organization": "organisation"}


def read_rows(stream: Iterable[str]) -> Iterator[Row]:
    """The file's rows: its `email` column, and `name` and `organisation` if it has them."""
    reader = csv.reader(stream)
    header = [cell.strip().lower() for cell in next(reader, None) or []]
    header = [SPELLINGS.get(name, name) for name in header]
    if "email" not in header:
        raise ImportProblem("the CSV needs a header row with an 'email' column")
    email = header.index("email")
    name, organisation = (header.index(c) if c in header else None for c in ATTRIBUTES)
    for row in reader:
        width = len(row)
        yield (
            row[email] if email < width else "",
            row[name] if name is not None and name < width else "",
            row[organisation] if organisation is not None and organisation < width else "",
        )


def people(rows: Iterable[Row]) -> Iterator[Person | None]:
    """Each row as the person it names, or None for a row that cannot be imported."""
    for email, name, organisation in rows:
        try:
            address = normalise_address(email)
            yield (
                address,
                address_key(address),
                _attribute(name, ATTRIBUTES["name"]),
                _attribute(organisation, ATTRIBUTES["organisation"]),
            )
        except InvalidAddress:
            yield None


def _attribute(text: str, limit: int) -> str | None:
    """A name or organisation as stored: None if empty; InvalidAddress (the row is refused) if
    too long or holding what no page can show."""
    text = text.strip()
    if not text:
        return None
    if len(text) > limit or problem(text) is not None:
        raise InvalidAddress("the row's name or organisation is too long or not plain text")
    return text


Progress = Callable[[int, ImportReport], None]


def import_subscribers(
    rows: Iterable[Row],
    topic_slugs: list[str],
    consent_text: str,
    progress: Progress | None = None,
) -> ImportReport:
    """Make the people in these rows active subscribers of these topics.

    `progress`, if given, is called with each chunk's number of rows and the report so far.
    PostgreSQL stages the whole file and writes it in two shares at once, each in a transaction
    of its own (`import_staging`); other databases write a chunk per transaction.
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
    if db.session.get_bind().dialect.name == "postgresql":
        import_staged(people(rows), topics, statement_id, report, progress, CHUNK)
        return report
    seen: set[str] = set()
    iterator = people(rows)
    while chunk := list(islice(iterator, CHUNK)):
        with transaction():
            _import_chunk(chunk, topics, statement_id, report, seen)
        if progress is not None:
            progress(len(chunk), report)
    return report


def _valid_unique(
    chunk: list[Person | None], report: ImportReport, seen: set[str]
) -> dict[str, Person]:
    """key → person for the chunk's valid rows whose address was not seen before."""
    valid: dict[str, Person] = {}
    for person in chunk:
        if person is None:
            report.skipped["invalid"] += 1
            continue
        key = person[1]
        if key in seen:
            report.skipped["duplicate"] += 1
            continue
        seen.add(key)
        valid[key] = person
    return valid


def _import_chunk(
    chunk: list[Person | None],
    topics: list[Topic],
    statement_id: int,
    report: ImportReport,
    seen: set[str],
) -> None:
    valid = _valid_unique(chunk, report, seen)
    hashes = {address_hash(key): key for key in valid}
    suppressed = db.session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(list(hashes)))
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
            ).where(Subscriber.email_key.in_(list(valid)))
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
            "name": name,
            "organisation": organisation,
        }
        for key, (address, _, name, organisation) in valid.items()
        if key not in existing
    ]
    if new_rows:
        db.session.execute(insert(Subscriber.__table__), new_rows)
    ids = dict(
        db.session.execute(
            select(Subscriber.email_key, Subscriber.id).where(Subscriber.email_key.in_(list(valid)))
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
    _fill_attributes([(ids[key], valid[key]) for key in existing if key in valid], now)
    have = {
        (sid, tid)
        for sid, tid in db.session.execute(
            select(Subscription.subscriber_id, Subscription.topic_id).where(
                Subscription.subscriber_id.in_(list(ids.values())),
                Subscription.topic_id.in_([t.id for t in topics]),
            )
        )
    }
    wanted = [
        (sid, topic) for sid in ids.values() for topic in topics if (sid, topic.id) not in have
    ]
    if wanted:
        db.session.execute(
            insert(Subscription.__table__),
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
        db.session.execute(
            insert(ConsentEvent.__table__),
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


def _fill_attributes(known: list[tuple[int, Person]], now: datetime) -> None:
    """Give people already on the list a name or organisation where they have none."""
    table = Subscriber.__table__
    for attribute, column in (("name", 2), ("organisation", 3)):
        given = [{"sid": sid, "value": p[column]} for sid, p in known if p[column] is not None]
        if given:
            db.session.execute(
                update(table)
                .where(table.c.id == bindparam("sid"), table.c[attribute].is_(None))
                .values({attribute: bindparam("value"), "updated_at": now}),
                given,
            )
