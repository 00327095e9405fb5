"""`flask --app updates subscribers import`: consent recorded, suppression respected, repeatable."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from tests.factories import create_subscriber
from tests.helpers import followed, sign_up, subscriber
from updates.addresses import address_hash
from updates.extensions import db
from updates.models import ConsentEvent, Subscriber, Subscription, Suppression
from updates.subscribers import importer
from updates.subscribers.import_staging import WRITERS, share_of


def run_import(app, path: Path, topics: str = "events,social-care"):
    return app.test_cli_runner().invoke(
        args=[
            "subscribers",
            "import",
            str(path),
            "--topics",
            topics,
            "--consent",
            "Delegate list, Local Public Services Summit 2026, opted in on form",
        ]
    )


def test_import_makes_active_subscribers_records_consent_and_is_safe_twice(app, topics, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text(
        "name,Email\nAda,ada@example.org\nBob,BOB@example.org\nBad,not-an-address\n"
        "Dup,Ada@Example.org\nGone,gone@example.org\n"
    )
    db.session.add(Suppression(email_hash=address_hash("gone@example.org"), reason="erased"))
    db.session.commit()

    first = run_import(app, csv)
    assert first.exit_code == 0, first.output
    assert "imported 2" in first.output
    assert "1 invalid" in first.output and "1 suppressed" in first.output
    assert "1 duplicate" in first.output
    statuses = dict(db.session.execute(select(Subscriber.email_key, Subscriber.status)).all())
    assert statuses == {"ada@example.org": "active", "bob@example.org": "active"}
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 4
    event = db.session.scalars(select(ConsentEvent)).first()
    assert (event.action, event.source) == ("imported", "import")
    assert event.statement.text.startswith("Delegate list")

    second = run_import(app, csv)
    assert "imported 0, already subscribed 2" in second.output
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 4
    assert db.session.scalar(select(func.count()).select_from(ConsentEvent)) == 2


def test_import_never_resubscribes_someone_who_unsubscribed_or_erased(
    app, client, topics, tmp_path
):
    db.session.add(
        Subscriber(email="left@example.org", email_key="left@example.org", status="unsubscribed")
    )
    db.session.add(Suppression(email_hash=address_hash("erased@example.org"), reason="erased"))
    db.session.commit()
    csv = tmp_path / "people.csv"
    csv.write_text("email\nleft@example.org\nerased@example.org\n")
    result = run_import(app, csv)
    assert "imported 0" in result.output
    assert "1 unsubscribed" in result.output and "1 suppressed" in result.output
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 0
    assert sign_up(client, "erased@example.org", ["events"]).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1


def test_import_refuses_an_unknown_topic_or_a_file_without_an_email_column(app, topics, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_text("email\nada@example.org\n")
    unknown = run_import(app, csv, topics="events,nope")
    assert unknown.exit_code != 0 and "no such topic: nope" in unknown.output
    csv.write_text("address\nada@example.org\n")
    no_column = run_import(app, csv)
    assert no_column.exit_code != 0 and "'email' column" in no_column.output
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0


def counts_in(output: str) -> dict[str, int]:
    """The numbers in the summary line, by what they count."""
    summary = output.strip().splitlines()[-1]
    found = re.findall(r"(\d+) (invalid|suppressed|unsubscribed|duplicate)", summary)
    head = re.match(r"imported (\d+), already subscribed (\d+), skipped (\d+)", summary)
    assert head is not None, output
    imported, unchanged, skipped = map(int, head.groups())
    return {"imported": imported, "unchanged": unchanged, "skipped": skipped} | {
        why: int(count) for count, why in found
    }


def test_each_kind_of_row_that_cannot_be_imported_is_skipped_and_counted(app, tmp_path, topics):
    """Hundreds of rows, every kind: the counts add up and only the importable are written."""
    create_subscriber("bounced@example.org", [], status="bounced")
    create_subscriber("gone@example.org", [], status="unsubscribed")
    create_subscriber("waiting@example.org", [], status="pending")
    create_subscriber("already@example.org", ["events", "social-care"])
    create_subscriber("half@example.org", ["events"])
    # Left, then signed up again without confirming: pending, and still off the list.
    came_back = create_subscriber("came-back@example.org", [], status="pending")
    db.session.add(ConsentEvent(subscriber=came_back, action="unsubscribed", source="link"))
    db.session.add(Suppression(email_hash=address_hash("hashed@example.org"), reason="erased"))
    db.session.commit()
    lines = [f"reader{n}@example.org" for n in range(300)]
    lines += [f"Reader{n}@EXAMPLE.org" for n in range(0, 300, 10)]  # 30 duplicates
    lines += ["not an address", "@example.org", "a@localhost", "x@example.test"]  # 4 invalid
    lines += ["bounced@example.org", "hashed@example.org"]  # 2 suppressed
    lines += ["gone@example.org", "came-back@example.org"]  # 2 unsubscribed
    lines += ["waiting@example.org", "half@example.org", "already@example.org"]
    csv = tmp_path / "people.csv"
    csv.write_text("email\n" + "\n".join(lines) + "\n")

    result = run_import(app, csv)
    assert result.exit_code == 0, result.output
    assert counts_in(result.output) == {
        "imported": 302,  # the 300 readers, the one waiting and the one following half
        "unchanged": 1,
        "skipped": 38,
        "invalid": 4,
        "duplicate": 30,
        "suppressed": 2,
        "unsubscribed": 2,
    }
    statuses = dict(db.session.execute(select(Subscriber.email_key, Subscriber.status)).all())
    assert statuses["waiting@example.org"] == "active"
    assert statuses["came-back@example.org"] == "pending"
    assert statuses["gone@example.org"] == "unsubscribed"
    assert statuses["bounced@example.org"] == "bounced"
    assert "hashed@example.org" not in statuses
    for skipped in ("bounced", "gone", "came-back"):
        assert followed(f"{skipped}@example.org") == set()
    assert followed("half@example.org") == {"events", "social-care"}
    half = subscriber("half@example.org")
    [event] = db.session.scalars(select(ConsentEvent).where(ConsentEvent.subscriber_id == half.id))
    assert (event.action, event.source, event.topics) == ("imported", "import", ["social-care"])
    reader = subscriber("reader7@example.org")
    assert reader.email == "reader7@example.org" and reader.status == "active"
    [event] = db.session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscriber_id == reader.id)
    )
    assert event.topics == ["events", "social-care"]
    assert event.statement.text.startswith("Delegate list")
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 2 * 303

    again = run_import(app, csv)
    assert counts_in(again.output) == {
        "imported": 0,
        "unchanged": 303,
        "skipped": 38,
        "invalid": 4,
        "duplicate": 30,
        "suppressed": 2,
        "unsubscribed": 2,
    }
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 2 * 303
    assert (
        db.session.scalar(
            select(func.count()).select_from(ConsentEvent).where(ConsentEvent.action == "imported")
        )
        == 302
    )


def test_names_and_organisations_are_read_and_a_later_import_only_fills_gaps(app, tmp_path, topics):
    csv = tmp_path / "people.csv"
    csv.write_text(
        "E-mail ignored,NAME,Email,Organisation\n"
        ",Ada Lovelace,ada@example.org,Analytical Engines Ltd\n"
        ",,bob@example.org,\n"
        f",{'x' * 201},long@example.org,\n"
        ",Bell\x07,bell@example.org,\n"
        ",=cmd(),formula@example.org,@SUM(A1)\n"
    )
    result = run_import(app, csv)
    assert counts_in(result.output)["imported"] == 3, result.output
    assert counts_in(result.output)["invalid"] == 2  # a name too long, a control character
    people = {
        email: (name, organisation)
        for email, name, organisation in db.session.execute(
            select(Subscriber.email, Subscriber.name, Subscriber.organisation)
        )
    }
    assert people == {
        "ada@example.org": ("Ada Lovelace", "Analytical Engines Ltd"),
        "bob@example.org": (None, None),
        "formula@example.org": ("=cmd()", "@SUM(A1)"),
    }

    csv.write_text(
        "email,name,organization\n"
        "ada@example.org,Countess of Lovelace,Somewhere Else\n"
        "bob@example.org,Bob Babbage,Difference Engines\n"
    )
    later = run_import(app, csv, topics="events")
    assert counts_in(later.output) == {"imported": 0, "unchanged": 2, "skipped": 0}
    db.session.expire_all()
    assert subscriber("ada@example.org").name == "Ada Lovelace"
    assert subscriber("ada@example.org").organisation == "Analytical Engines Ltd"
    assert subscriber("bob@example.org").name == "Bob Babbage"
    assert subscriber("bob@example.org").organisation == "Difference Engines"


def test_duplicates_are_found_across_chunks(app, topics, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 40)
    rows = [(f"p{n % 150}@example.org", f"P {n}", "") for n in range(200)]
    report = importer.import_subscribers(rows, ["events"], "Delegate list")
    assert (report.imported, report.skipped["duplicate"]) == (150, 50)
    assert subscriber("p3@example.org").name == "P 3"  # the first line for an address counts


@contextmanager
def import_waiting_on_a_sign_up(app) -> Iterator[tuple[int, list]]:
    """An import of 50 addresses and late@example.org, in a thread, while a sign-up of
    late@example.org is written but not committed: the block runs once the import waits on it,
    with the waiting backend's pid and the import's outcome (its report, or what it raised),
    filled once the block has ended, the sign-up committed and the import finished."""
    rows = [(f"r{n}@example.org", "", "") for n in range(50)] + [("late@example.org", "", "")]
    outcome: list = []

    def run() -> None:
        with app.app_context():
            try:
                outcome.append(importer.import_subscribers(rows, ["events"], "Delegate list"))
            except Exception as error:
                outcome.append(error)

    with db.engine.connect() as sign_up_meanwhile:
        sign_up_meanwhile.execute(
            insert(Subscriber).values(
                email="late@example.org", email_key="late@example.org", status="pending"
            )
        )  # not committed yet: the import cannot see it, but its insert waits on it
        importing = threading.Thread(target=run)
        importing.start()
        yield waiting_on_a_row(importing)[0], outcome
        sign_up_meanwhile.commit()
        importing.join(60)


def test_someone_who_signs_up_while_the_file_is_written_keeps_their_own_row(app, topics):
    """PostgreSQL: the import sorted the address as new, then met the sign-up's row on insert."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite allows one writer at a time; nothing can sign up meanwhile")
    with import_waiting_on_a_sign_up(app) as (_, outcome):
        pass
    [report] = outcome
    assert (report.imported, report.unchanged) == (50, 1)
    late = subscriber("late@example.org")
    assert (late.status, followed("late@example.org")) == ("pending", set())
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 51


def test_a_share_that_fails_leaves_the_others_people_whole_and_a_second_run_finishes(app, topics):
    """PostgreSQL writes the people in shares, each committed on its own: a person's rows
    commit together, and the import is safe to run again."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes an import a chunk per transaction, in one connection")
    with import_waiting_on_a_sign_up(app) as (pid, outcome):
        db.session.execute(text("SELECT pg_cancel_backend(:pid)"), {"pid": pid})
    assert [type(error).__name__ for error in outcome] == ["QueryCanceled"]
    db.session.rollback()
    written = db.session.scalars(
        select(Subscriber.id).where(Subscriber.email_key != "late@example.org")
    ).all()
    assert 0 < len(written) < 50  # the other share's people, and none of the cancelled one's
    for table in (Subscription, ConsentEvent):
        assert db.session.scalar(select(func.count()).select_from(table)) == len(written)

    rows = [(f"r{n}@example.org", "", "") for n in range(50)]
    report = importer.import_subscribers(rows, ["events"], "Delegate list")
    assert (report.imported, report.unchanged) == (50 - len(written), len(written))
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 50


def test_a_transaction_holding_up_one_share_while_it_waits_on_another_does_not_hang_it(app, topics):
    """Each share commits once written, so none idles on a row another transaction waits for
    while that transaction holds up a second share."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite allows one writer at a time")
    by_share: dict[int, str] = {}
    for n in range(100):
        by_share.setdefault(share_of(address_hash(f"held{n}@example.org"), WRITERS), f"held{n}@")
    first, second = (f"{by_share[share]}example.org" for share in (0, 1))
    for address in (first, second):
        create_subscriber(address, ["events"], status="pending")
    rows = [(first, "", ""), (second, "", "")] + [(f"r{n}@example.org", "", "") for n in range(20)]
    outcome: list[importer.ImportReport] = []

    def run() -> None:
        with app.app_context():
            outcome.append(importer.import_subscribers(rows, ["events"], "Delegate list"))

    touch = "UPDATE subscribers SET updated_at = now() WHERE email_key = :key"
    with db.engine.connect() as other:
        other.execute(text("SET LOCAL lock_timeout = '20s'"))  # a hang fails here instead
        other.execute(text(touch), {"key": first})  # holds up the first's share
        importing = threading.Thread(target=run)
        importing.start()
        waiting_on_a_row(importing)
        other.execute(text(touch), {"key": second})  # the second's share has committed, or will
        other.commit()
        importing.join(60)
    [report] = outcome
    assert report.imported + report.unchanged == 22
    assert {subscriber(first).status, subscriber(second).status} == {"active"}


def test_a_second_import_waits_for_the_first_so_people_in_both_get_both_topics(app, topics):
    """PostgreSQL: the second would otherwise sort the first's uncommitted people as new, meet
    their rows on insert, and leave them without its topic."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite allows one writer at a time")
    second: list[importer.ImportReport] = []

    def run_second() -> None:
        with app.app_context():
            rows = [(f"r{n}@example.org", "", "") for n in range(50)]
            second.append(importer.import_subscribers(rows, ["social-care"], "Care list"))

    with import_waiting_on_a_sign_up(app) as (_, first):
        importing = threading.Thread(target=run_second)
        importing.start()
        deadline = time.monotonic() + 60
        while len(waiting()) < 2 and importing.is_alive():  # waits for the first, or not
            assert time.monotonic() < deadline, "the second import neither waited nor ended"
            db.session.rollback()
            time.sleep(0.05)
    importing.join(60)
    assert [report.imported for report in first + second] == [50, 50]
    for n in (0, 17, 49):
        assert followed(f"r{n}@example.org") == {"events", "social-care"}


def waiting(locktype: str = "%") -> list[int]:
    """The backends of this database that wait for a lock (of this type)."""
    return db.session.scalars(
        text(
            "SELECT pid FROM pg_locks JOIN pg_stat_activity USING (pid)"
            " WHERE NOT granted AND locktype LIKE :locktype AND datname = current_database()"
        ),
        {"locktype": locktype},
    ).all()


def waiting_on_a_row(importing: threading.Thread) -> list[int]:
    """The backends that wait on another transaction, once the import's does."""
    deadline = time.monotonic() + 60
    while not (pids := waiting("transactionid")):
        assert time.monotonic() < deadline and importing.is_alive(), "the import never waited"
        db.session.rollback()
        time.sleep(0.05)
    return pids
