"""The API obeys the console's roles and leaves an audit trail, call by call, caller by caller."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from updates.extensions import db
from updates.models import (
    ApiToken,
    AuditEvent,
    Digest,
    Schedule,
    StaffUser,
    Topic,
    Update,
    utcnow,
)
from updates.news import digests
from updates.news.cadence import when
from updates.news.events import EventDetails, set_event
from updates.news.schedules import create_schedule
from updates.staff.accounts import issue_api_token


def draft(digest: Digest) -> None:
    pass


def scheduled(digest: Digest) -> None:
    digests.send(digest)


def paused(digest: Digest) -> None:
    digests.send(digest)
    digests.pause(digest)


def an_event(digest: Digest) -> None:
    """Its update becomes an event, which can then be cancelled."""
    start = datetime(utcnow().year + 1, 3, 3, 10)
    details = EventDetails(start, start + timedelta(hours=2), "Europe/London")
    set_event(digest.items[0].update, details)


# method, path, body, the digest's state first, admins only, what the audit log says (None: a read)
CALLS: list[tuple[str, str, Any, Callable[[Digest], None], bool, str | None]] = [
    ("GET", "/api/topics", None, draft, False, None),
    ("POST", "/api/topics", {"slug": "board", "name": "Board"}, draft, True, "topic added"),
    (
        "POST",
        "/api/updates",
        {"title": "T", "body": "B", "topics": ["lps"]},
        draft,
        False,
        "update published",
    ),
    (
        "POST",
        "/api/digests",
        {"subject": "S", "updates": [], "topics": ["lps"]},
        draft,
        False,
        "digest composed",
    ),
    ("GET", "/api/digests/{digest}", None, draft, False, None),
    ("POST", "/api/digests/{digest}/send", {}, draft, False, "digest sending"),
    ("POST", "/api/digests/{digest}/pause", None, scheduled, False, "digest pause"),
    ("POST", "/api/digests/{digest}/resume", None, paused, False, "digest resume"),
    ("POST", "/api/digests/{digest}/cancel", None, draft, False, "digest cancel"),
    ("GET", "/api/subscribers?email=ada@example.org", None, draft, False, None),
    ("GET", "/api/schedules", None, draft, False, None),
    ("GET", "/api/schedules/{schedule}", None, draft, False, None),
    (
        "POST",
        "/api/schedules",
        {
            "name": "Weekly",
            "topics": ["lps"],
            "cadence": "weekly",
            "weekday": "monday",
            "time": "09:00",
            "timezone": "Europe/London",
        },
        draft,
        False,
        "schedule added",
    ),
    ("PATCH", "/api/schedules/{schedule}", {"active": False}, draft, False, "schedule changed"),
    ("DELETE", "/api/schedules/{schedule}", None, draft, False, "schedule deleted"),
    ("POST", "/api/schedules/{schedule}/run", None, draft, False, "schedule run"),
    ("PATCH", "/api/updates/{update}", {"body": "Corrected."}, draft, False, "update corrected"),
    ("DELETE", "/api/updates/{update}", None, draft, False, "update withdrawn"),
    ("POST", "/api/updates/{update}/event/cancel", None, an_event, False, "event cancelled"),
    ("PATCH", "/api/digests/{digest}", {"subject": "S2"}, draft, False, "digest edited"),
    ("DELETE", "/api/digests/{digest}", None, draft, False, "digest deleted"),
]
EXPECTED = {"GET": 200, "PATCH": 200, "DELETE": 204}
CALLERS = ("admin", "editor", "no token", "revoked token")


@pytest.fixture
def tokens(app: Flask) -> dict[str, str | None]:
    # Accounts that sign in with tokens only: no password hash to compute for each test.
    admin = StaffUser(email="admin@example.org", role="admin", password_hash="!")
    editor = StaffUser(email="editor@example.org", role="editor", password_hash="!")
    db.session.add_all([admin, editor])
    db.session.commit()
    revoked, revoked_token = issue_api_token(editor)
    revoked.revoked_at = utcnow()
    db.session.commit()
    return {
        "admin": issue_api_token(admin)[1],
        "editor": issue_api_token(editor)[1],
        "no token": None,
        "revoked token": revoked_token,
    }


@pytest.fixture
def digest(app: Flask) -> Digest:
    create_topics("lps", "care")
    create_subscriber("ada@example.org", ["lps"])
    return create_test_digest([create_news("Council budgets", ["lps"])], ["lps"])


@pytest.fixture
def schedule(digest: Digest) -> Schedule:
    return create_schedule("Daily", ["lps"], when("daily", "09:00", "UTC"))


def state() -> dict[str, Any]:
    db.session.expire_all()
    counts = {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Topic, Update, Digest, AuditEvent, Schedule)
    }
    return {**counts, "digests": sorted(db.session.execute(select(Digest.id, Digest.status)))}


def audit_trail() -> list[tuple[str, str, str]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(StaffUser.email, AuditEvent.action, AuditEvent.detail)
        .join(StaffUser, StaffUser.id == AuditEvent.staff_id)
        .order_by(AuditEvent.id)
    )
    return [tuple(row) for row in rows]


def call_name(call: tuple) -> str:
    return f"{call[0]} {call[1].split('?')[0]}"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("call", CALLS, ids=call_name)
def test_each_call_answers_each_caller_by_role_and_audits_what_it_changes(
    client, tokens, digest, schedule, call, caller
):
    method, path, body, prepare, admins_only, action = call
    prepare(digest)
    url = path.format(digest=digest.id, schedule=schedule.id, update=digest.items[0].update_id)
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if tokens[caller] else {}
    before = state()

    response = client.open(url, method=method, json=body, headers=headers)

    if caller in ("no token", "revoked token"):
        expected = 401
    elif admins_only and caller == "editor":
        expected = 403
    else:
        accepted = "/api/digests/" in path or path.endswith("/run")
        expected = EXPECTED.get(method, 202 if accepted else 201)
        if path.endswith("/event/cancel"):
            expected = 200  # the update, its event now cancelled
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        assert response.is_json and response.get_json()["error"]
        assert state() == before
    elif action is None:
        assert audit_trail() == []
    else:
        [(who, done, detail)] = audit_trail()
        assert (who, done) == (f"{caller}@example.org", action)
        assert detail.endswith("(API)")


def test_the_matrix_covers_every_call_of_the_api(app):
    adapter = app.url_map.bind("localhost")
    covered = {
        adapter.match(path.split("?")[0].format(digest=1, schedule=1, update=1), method=method)[0]
        for method, path, *_ in CALLS
    }
    endpoints = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
    }
    assert endpoints - covered == {"api.openapi_document"}


def test_an_editor_is_told_which_calls_are_for_admins_in_the_description(client):
    document = client.get("/api/openapi.json").get_json()
    assert "403" in document["paths"]["/api/topics"]["post"]["responses"]
    assert "403" not in document["paths"]["/api/updates"]["post"]["responses"]


def test_a_token_of_a_deactivated_admin_no_longer_acts(client, tokens, digest):
    db.session.scalars(select(StaffUser).where(StaffUser.role == "admin")).one().active = False
    db.session.commit()
    before = state()
    response = client.post(
        "/api/topics",
        json={"slug": "board", "name": "Board"},
        headers={"Authorization": f"Bearer {tokens['admin']}"},
    )
    assert response.status_code == 401
    assert state() == before
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 3
