"""A digest's console page knows its state: it offers only the actions that apply, says what
happened in plain words, and reports progress (rate and time left too) and failures."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.factories import create_subscriber
from tests.helpers import (
    audit_actions,
    digest_status,
    page,
    press,
    press_and_confirm,
    signed_in,
)
from updates.console.progress import duration, pace
from updates.extensions import db
from updates.models import Digest, utcnow
from updates.news.digests import Progress

LATER = f"{date.today() + timedelta(days=30)}T10:00"


def shown_actions(html) -> set[str]:
    """The labels of the buttons and links a person sees among the digest's actions."""
    actions = html.find(id="actions")
    if actions is None:
        return set()
    shown = {a.get_text().strip() for a in actions.find_all("a")}
    for form in actions.find_all("form"):
        if not form.has_attr("hidden"):
            shown |= {b.get_text().strip() for b in form.find_all("button")}
    return shown


def send_section(html):
    return html.find(id="send")


def flashed(response) -> str:
    return " ".join(n.get_text() for n in page(response).find_all(attrs={"role": "status"}))


def set_state(digest_id: int, status: str, started: bool = True, due: bool = True) -> None:
    digest = db.session.get(Digest, digest_id)
    digest.status = status
    digest.scheduled_at = utcnow() - timedelta(minutes=1) if due else utcnow() + timedelta(days=1)
    digest.started_at = utcnow() - timedelta(seconds=30) if started else None
    digest.finished_at = utcnow() if status in ("sent", "cancelled") else None
    db.session.commit()


@pytest.mark.parametrize(
    ("status", "started", "due", "label", "actions", "send_form"),
    [
        (
            "draft",
            False,
            False,
            "Draft",
            {"Edit this draft", "Delete this draft", "Send me a test copy"},
            True,
        ),
        ("scheduled", False, False, "Scheduled", {"Send me a test copy", "Cancel"}, True),
        ("scheduled", False, True, "Starting", {"Pause sending", "Cancel"}, False),
        ("sending", True, True, "Sending", {"Pause sending", "Cancel"}, False),
        ("paused", True, True, "Paused", {"Resume sending", "Cancel"}, False),
        ("sent", True, True, "Sent", set(), False),
        ("cancelled", True, True, "Cancelled", set(), False),
    ],
)
def test_a_digest_page_offers_only_the_actions_its_state_allows(
    app, people, status, started, due, label, actions, send_form
):
    set_state(people["digest"], status, started, due)
    editor = signed_in(app, "editor")
    html = page(editor.get(f"/admin/digests/{people['digest']}"))
    assert html.find(id="stage").get_text() == label
    assert shown_actions(html) == actions
    assert (send_section(html) is not None) == send_form
    assert html.find("button", string="Retry failed") is None  # no failures, no retry
    has_bar = status not in ("draft",) and not (status == "scheduled" and not due)
    progress = html.find(id="progress")
    assert (progress is not None and not progress.has_attr("hidden")) == has_bar
    script = html.find("script", src=lambda src: src and "progress.js" in src)
    assert (script is not None) == (status not in ("draft", "sent", "cancelled"))


def test_a_scheduled_digest_says_when_it_goes_and_can_go_now(app, people):
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    scheduled = press_and_confirm(editor, path, "Send", at=LATER)
    shown = page(editor.get(scheduled.headers["Location"]))
    message = " ".join(n.get_text() for n in shown.find_all(attrs={"role": "status"}))
    assert message.startswith("Digest scheduled for 10:00 on")
    assert message.endswith(", to 1 subscriber.")
    assert "Scheduled to go at 10:00" in shown.find(id="when").get_text()
    assert send_section(shown).h2.get_text() == "Send at another time, or now"

    now = press_and_confirm(editor, path, "Send", at="")
    assert flashed(editor.get(now.headers["Location"])) == "Sending to 1 subscriber now."
    assert audit_actions() == ["digest scheduled", "digest sending"]


def test_pause_resume_and_cancel_say_what_happened_in_plain_words(app, people):
    set_state(people["digest"], "sending")
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"

    paused = press(editor, path, "Pause sending")
    assert flashed(editor.get(paused.headers["Location"])) == (
        "Sending paused. Nothing more goes until you resume it."
    )
    assert digest_status(people["digest"]) == "paused"
    resumed = press(editor, path, "Resume sending")
    assert flashed(editor.get(resumed.headers["Location"])) == "Sending resumed."
    assert digest_status(people["digest"]) == "sending"
    cancelled = press_and_confirm(editor, path, "Cancel")
    assert flashed(editor.get(cancelled.headers["Location"])) == (
        "Digest cancelled. Nothing more of it will be sent."
    )
    assert digest_status(people["digest"]) == "cancelled"
    assert audit_actions() == ["digest pause", "digest resume", "digest cancel"]


def test_an_action_the_state_no_longer_allows_is_refused_in_plain_words(app, people):
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    token = page(editor.get(path)).find("input", attrs={"name": "csrf_token"})["value"]
    set_state(people["digest"], "sent")
    refused = editor.post(f"{path}/pause", data={"csrf_token": token}, follow_redirects=True)
    assert flashed(refused) == "A sent digest cannot be paused."
    assert digest_status(people["digest"]) == "sent"
    assert audit_actions() == []


def test_progress_json_counts_what_the_workers_did_with_rate_and_time_left(
    app, people, run_jobs, mail_server
):
    mail_server.refuse("reader@example.org", "554 5.7.1 Rejected by policy")
    for n in range(3):
        create_subscriber(f"r{n}@example.org", ["lps"])
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    press_and_confirm(editor, path, "Send")
    waiting = editor.get(f"{path}/progress").get_json()
    assert (waiting["stage"], waiting["label"], waiting["final"]) == ("starting", "Starting", False)
    assert (waiting["rate"], waiting["time_left"]) == (None, None)
    run_jobs()

    progress = editor.get(f"{path}/progress")
    assert progress.headers["Cache-Control"] == "no-store"
    numbers = progress.get_json()
    db.session.expire_all()
    digest = db.session.get(Digest, people["digest"])
    elapsed = (digest.finished_at - digest.started_at).total_seconds()
    assert numbers == {
        "status": "sent",
        "stage": "sent",
        "label": "Sent",
        "final": True,
        "recipients": 4,
        "sent": 3,
        "failed": 1,
        "skipped": 0,
        "already_sent": 0,
        "pending": 0,
        "done": 4,
        "percent": 100,
        "rate": round(4 / max(elapsed, 0.001), 1),
        "seconds_left": 0,
        "time_left": "0 s",
    }
    assert len(mail_server.messages_to("r0@example.org")) == 1


def test_progress_needs_a_signed_in_staff_member(app, people, client):
    answer = client.get(f"/admin/digests/{people['digest']}/progress")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/admin/login")
    assert client.get("/admin/digests/999999/progress").status_code == 302
    editor = signed_in(app, "editor")
    assert editor.get("/admin/digests/999999/progress").status_code == 404


def test_rate_and_time_left_come_from_what_went_since_it_started(app, people):
    digest = db.session.get(Digest, people["digest"])
    now = utcnow()
    digest.status, digest.started_at = "sending", now - timedelta(seconds=10)
    assert pace(digest, Progress(100, 18, 2, 0), now) == (2.0, 40)
    assert pace(digest, Progress(100, 0, 0, 0), now) == (0.0, None)  # nothing yet: no guess
    digest.status = "paused"
    assert pace(digest, Progress(100, 18, 2, 0), now) == (None, None)
    digest.status, digest.finished_at = "sent", now - timedelta(seconds=5)
    assert pace(digest, Progress(100, 95, 5, 0), now) == (20.0, 0)
    assert [duration(s) for s in (0, 119, 120, 3599, 7200, 9000)] == [
        "0 s",
        "119 s",
        "2 min",
        "60 min",
        "2 h 0 min",
        "2 h 30 min",
    ]


def test_the_failure_report_and_its_retry_show_only_when_deliveries_failed(
    app, people, run_jobs, mail_server
):
    mail_server.refuse("reader@example.org", "554 5.7.1 Rejected by policy")
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    press_and_confirm(editor, path, "Send")
    in_flight = page(editor.get(path))
    assert in_flight.find(id="failures") is None
    assert in_flight.find(id="failures-note").has_attr("hidden")  # shown by the script, if any
    run_jobs()

    html = page(editor.get(path))
    report = html.find(id="failures")
    assert report.find("td").get_text() == "reader@example.org"
    retry = html.find("button", string="Retry failed")
    assert retry is not None and retry.find_parent("form")["action"].endswith("/retry")
    note_link = in_flight.find(id="failures-note").find("a")["href"]
    assert note_link.endswith(f"/admin/digests/{people['digest']}#failures-title")
    assert report.find(id="failures-title") is not None

    retried = press(editor, path, "Retry failed")
    assert flashed(editor.get(retried.headers["Location"])) == "Sending the failed delivery again."
    run_jobs()
    assert len(mail_server.messages_to("reader@example.org")) == 1
    after = page(editor.get(path))
    assert after.find(id="failures") is None
    assert after.find("button", string="Retry failed") is None
