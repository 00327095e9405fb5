"""A staff action and its audit row commit together or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from tests.helpers import PASSWORD, form_values, page, sign_in
from updates.extensions import db
from updates.models import AuditEvent, StaffUser, Suppression, Topic, Update
from updates.news.topics import add_topic
from updates.staff.accounts import add_staff

# Each console form that changes something: its page, what to fill in, and what it creates.
ACTIONS = {
    "topic added": (
        "/admin/topics",
        {"slug": "innovators", "name": "Innovators", "visibility": "public"},
        Topic,
    ),
    "update published": (
        "/admin/updates",
        {"title": "Summit dates", "body": "In *March*.", "topics": ["events"]},
        Update,
    ),
    "staff added": (
        "/admin/staff",
        {"email": "new@example.org", "role": "editor", "password": PASSWORD},
        StaffUser,
    ),
    "address suppressed": (
        "/admin/suppressions",
        {"email": "gone@example.org", "reason": "asked by phone"},
        Suppression,
    ),
}


@pytest.fixture
def admin(app):
    add_staff("admin@example.org", "admin", PASSWORD)
    add_topic("events", "Events and Summits")
    client = app.test_client()
    assert sign_in(client, "admin@example.org").status_code == 302
    return client


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def submit(client, path: str, values: dict[str, object]):
    form = page(client.get(path)).find("form", method="post")
    filled = form_values(form)
    filled.update(values)
    return client.post(path, data=filled)


@contextmanager
def audit_log_refusing_writes() -> Iterator[None]:
    """The audit table out of reach: every write to it fails in the database."""
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))
    try:
        yield
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE audit_events_away RENAME TO audit_events"))


@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_whose_audit_row_cannot_be_written_does_not_happen(admin, action):
    path, values, model = ACTIONS[action]
    before = count(model)
    with audit_log_refusing_writes(), pytest.raises(DatabaseError):
        submit(admin, path, values)
    assert count(model) == before
    assert count(AuditEvent) == 0


@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_lands_with_its_audit_row(admin, action):
    path, values, model = ACTIONS[action]
    before = count(model)
    assert submit(admin, path, values).status_code == 303
    assert count(model) == before + 1
    assert [event.action for event in db.session.scalars(select(AuditEvent))] == [action]
