"""`flask --app updates subscribers import`: consent recorded, suppression respected, repeatable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tests.helpers import sign_up
from updates.addresses import address_hash
from updates.extensions import db
from updates.models import ConsentEvent, Subscriber, Subscription, Suppression


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
