"""The console corrects and withdraws updates, edits and deletes drafts, says whom a digest
reaches, asks before sending, cancelling and erasing, and schedules in the organisation's time."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber, create_test_digest
from tests.helpers import (
    audit_actions,
    confirm,
    digest_status,
    errors_on,
    form_values,
    form_with_button,
    page,
    press,
    press_and_confirm,
    signed_in,
)
from updates.extensions import db
from updates.models import Digest, Subscriber, Update, UpdateRevision


def next_date(month: int, day: int) -> date:
    """The next such day from today: within the year a digest may be scheduled ahead."""
    today = date.today()
    this_year = date(today.year, month, day)
    return this_year if this_year > today else date(today.year + 1, month, day)


def last_sunday(month: int) -> date:
    """The next last Sunday of the month, when the clocks change in Europe."""
    first_of_next = next_date(month, 1).replace(day=28) + timedelta(days=4)
    last = first_of_next - timedelta(days=first_of_next.day)
    return last - timedelta(days=(last.weekday() + 1) % 7)


SUMMER, WINTER = next_date(7, 1), next_date(12, 2)


def revisions_of(update_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(UpdateRevision.title)
            .where(UpdateRevision.update_id == update_id)
            .order_by(UpdateRevision.id)
        )
    )


# --- corrections


def test_an_editor_corrects_a_published_update_and_sees_its_history(app, client, people):
    editor = signed_in(app, "editor")
    listing = page(editor.get("/admin/updates"))
    edit = listing.find("a", string="Edit")["href"]
    assert edit == f"/admin/updates/{people['update']}"
    form = page(editor.get(edit)).find("textarea", attrs={"name": "body"})
    assert form.get_text().strip() == "The **details** are on our website."

    saved = press(
        editor, edit, "Save the correction", title="Budgets, corrected", body="New *text*."
    )

    assert saved.status_code == 303
    assert revisions_of(people["update"]) == ["Budgets", "Budgets, corrected"]
    history = page(editor.get(edit)).find("table", id="history")
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in history.tbody.find_all("tr")]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("editor@example.org", "Budgets, corrected", "Lps"),
        ("", "Budgets", "Lps"),
    ]
    assert "Budgets, corrected" in client.get("/updates").get_data(as_text=True)
    assert page(client.get(f"/updates/{people['update']}")).find("em").get_text() == "text"
    assert audit_actions() == ["update corrected"]


def test_a_bad_correction_is_a_400_that_changes_nothing(app, people):
    editor = signed_in(app, "editor")
    edit = f"/admin/updates/{people['update']}"
    refused = press(editor, edit, "Save the correction", title="", topics=[])
    assert refused.status_code == 400
    assert "This field is required." in errors_on(refused)
    assert revisions_of(people["update"]) == ["Budgets"]
    assert audit_actions() == []


def test_withdrawing_asks_first_then_its_page_answers_410(app, client, people):
    editor = signed_in(app, "editor")
    asked = press(editor, "/admin/updates", "Withdraw")

    assert page(asked).h1.get_text() == "Withdraw “Budgets”?"
    assert client.get(f"/updates/{people['update']}").status_code == 200  # nothing yet
    done = confirm(editor, asked)
    assert done.status_code == 303
    followed = page(editor.get(done.headers["Location"])).get_text()
    assert "Withdrew “Budgets”. It was taken out of 1 digest not yet sent." in followed
    assert client.get(f"/updates/{people['update']}").status_code == 410
    assert "(withdrawn)" in page(editor.get("/admin/updates")).find("table").get_text()
    assert (
        "Budgets"
        not in page(editor.get("/admin/digests")).find("fieldset", id="update-choices").get_text()
    )
    assert audit_actions() == ["update withdrawn"]
    history = page(editor.get(f"/admin/updates/{people['update']}"))
    assert "it can no longer be changed" in history.find(id="withdrawn").get_text()
    assert history.find("textarea") is None


# --- composing


def test_the_composer_marks_each_update_with_its_topics_and_refuses_one_for_none_chosen(
    app, people
):
    care = create_news("Care news", ["care"])
    editor = signed_in(app, "editor")
    composer = page(editor.get("/admin/digests"))
    offered = {
        li.find("input")["value"]: li["data-topics"]
        for li in composer.select("#update-choices li[data-topics]")
    }
    assert offered == {str(people["update"]): "lps", str(care.id): "care"}
    assert composer.find("script", src="/static/composer.js") is not None

    form = form_values(form_with_button(composer, "Save draft"))
    form.update(
        subject="Care only", kind="digest", topics=["care"], updates=[str(people["update"])]
    )
    refused = editor.post("/admin/digests", data=form)
    assert refused.status_code == 400
    assert "Not for any of the topics chosen" in errors_on(refused)
    assert "Budgets" in errors_on(refused)
    assert db.session.scalar(select(func.count()).select_from(Digest)) == 1


def test_a_digest_page_says_whom_each_variant_reaches_and_which_updates_nobody_sees(app, people):
    create_subscriber("both@example.org", ["lps", "care"])
    create_subscriber("carer@example.org", ["care"])
    stray = create_news("Events", ["care"])
    budgets = db.session.get(Update, people["update"])
    digest = create_test_digest([budgets, stray], ["lps"])
    editor = signed_in(app, "editor")

    shown = page(editor.get(f"/admin/digests/{digest.id}"))

    assert "It reaches 2 subscribers." in shown.find(id="reach").get_text()
    rows = [
        [td.get_text() for td in tr.find_all("td")] for tr in shown.select("#variants tbody tr")
    ]
    assert [r[:2] for r in rows] == [["Lps", "2"]]
    items = shown.find(id="items").find_all("li")
    assert "nobody will see it" in items[1].get_text() and "nobody" not in items[0].get_text()

    two = create_test_digest([stray], ["lps", "care"])
    rows = page(editor.get(f"/admin/digests/{two.id}")).select("#variants tbody tr")
    reached = {tr.td.get_text(): [td.get_text() for td in tr.find_all("td")][1:] for tr in rows}
    assert reached["Lps"] == ["1", "nothing: no update for these topics"]
    assert reached["Care"][0] == "1" and reached["Lps, Care"][0] == "1"


# --- sending


def test_a_digest_that_would_reach_nobody_is_refused_with_a_clear_message(app, people):
    digest = create_test_digest([db.session.get(Update, people["update"])], ["care"])
    editor = signed_in(app, "editor")
    refused = press(editor, f"/admin/digests/{digest.id}", "Send")
    assert refused.status_code == 409
    message = page(refused).find(id="refusal").get_text()
    assert message == (
        "Nothing was sent: none of its updates is for any of its topics. The digest stays a draft."
    )
    assert digest_status(digest.id) == "draft"
    assert "digest sending" not in audit_actions()


def test_send_asks_first_with_the_count_and_sends_only_once_confirmed(app, people, run_jobs):
    for n in range(3):
        create_subscriber(f"r{n}@example.org", ["lps"])
    editor = signed_in(app, "editor")
    asked = press(editor, f"/admin/digests/{people['digest']}", "Send")
    assert page(asked).h1.get_text() == "Send to 4 subscribers now?"
    assert digest_status(people["digest"]) == "draft"
    assert form_with_button(page(asked), "Yes, send to 4 subscribers now")
    assert confirm(editor, asked).status_code == 303
    assert digest_status(people["digest"]) in ("scheduled", "sending", "sent")
    assert audit_actions() == ["digest sending"]


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        (f"{SUMMER}T10:00", datetime(SUMMER.year, 7, 1, 9, 0)),
        (f"{WINTER}T10:00", datetime(WINTER.year, 12, 2, 10, 0)),
    ],
)
def test_a_send_time_is_read_in_the_organisations_zone_and_shown_with_utc(app, people, local, utc):
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    detail = page(editor.get(path))
    box = detail.find("input", attrs={"name": "at"})
    assert box["type"] == "datetime-local"
    assert "Europe/London" in detail.find("label", attrs={"for": "at"}).get_text()

    asked = press(editor, path, "Send", at=local)
    question = page(asked).h1.get_text()
    assert question.startswith("Send to 1 subscriber at 10:00 on")
    assert f"{utc:%H:%M} UTC" in question
    assert confirm(editor, asked).status_code == 303
    db.session.expire_all()
    digest = db.session.get(Digest, people["digest"])
    assert (digest.status, digest.scheduled_at) == ("scheduled", utc)
    when = page(editor.get(path)).find(id="when").get_text()
    assert "Scheduled to go at 10:00" in when and f"{utc:%H:%M} UTC" in when
    assert page(editor.get(path)).find("input", attrs={"name": "at"})["value"] == local


@pytest.mark.parametrize(
    ("local", "problem"),
    [
        (f"{last_sunday(3)}T01:30", "does not happen in Europe/London: the clocks go forward"),
        (f"{last_sunday(10)}T01:30", "happens twice in Europe/London: the clocks go back"),
        ("2020-01-01T09:00", "That time has passed"),
    ],
)
def test_a_send_time_the_clocks_skip_or_repeat_or_that_has_passed_is_refused(
    app, people, local, problem
):
    editor = signed_in(app, "editor")
    refused = press(editor, f"/admin/digests/{people['digest']}", "Send", at=local)
    assert refused.status_code == 400
    assert problem in errors_on(refused)
    assert digest_status(people["digest"]) == "draft"


@pytest.fixture
def in_new_york(app_config):
    app_config["TIMEZONE"] = "America/New_York"


def test_timezone_sets_the_zone_send_times_are_read_in(in_new_york, app, people):
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    assert (
        "America/New_York" in page(editor.get(path)).find("label", attrs={"for": "at"}).get_text()
    )
    press_and_confirm(editor, path, "Send", at=f"{SUMMER}T10:00")
    db.session.expire_all()
    scheduled = db.session.get(Digest, people["digest"]).scheduled_at
    assert scheduled == datetime(SUMMER.year, 7, 1, 14, 0)


def test_cancel_and_erase_ask_first(app, people):
    admin = signed_in(app, "admin")
    path = f"/admin/digests/{people['digest']}"
    press_and_confirm(admin, path, "Send", at=f"{SUMMER}T10:00")
    asked = press(admin, path, "Cancel")
    assert page(asked).h1.get_text() == "Cancel “Programme news”?"
    assert digest_status(people["digest"]) == "scheduled"
    assert confirm(admin, asked).status_code == 303
    assert digest_status(people["digest"]) == "cancelled"

    person = f"/admin/subscribers/{people['subscriber']}"
    asked = press(admin, person, "Erase this subscriber's personal data")
    assert page(asked).h1.get_text() == "Erase reader@example.org's personal data?"
    assert db.session.get(Subscriber, people["subscriber"]).status == "active"
    assert confirm(admin, asked).status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscriber, people["subscriber"]).status == "erased"
    assert audit_actions() == ["digest scheduled", "digest cancel", "subscriber erased"]


# --- drafts


def test_a_draft_is_edited_then_deleted_after_asking(app, people):
    care = create_news("Care news", ["care"])
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    edit = page(editor.get(path)).find("a", string="Edit this draft")["href"]
    form = form_values(form_with_button(page(editor.get(edit)), "Save draft"))
    assert (form["subject"], form["topics"], form["updates"]) == (
        "Programme news",
        ["lps"],
        [str(people["update"])],
    )
    form.update(subject="Care news", kind="digest", topics=["lps", "care"], updates=[str(care.id)])
    assert editor.post(edit, data=form).status_code == 303
    db.session.expire_all()
    digest = db.session.get(Digest, people["digest"])
    assert digest.subject == "Care news"
    assert [i.update_id for i in digest.items] == [care.id]

    asked = press(editor, path, "Delete this draft")
    assert page(asked).h1.get_text() == "Delete the draft “Care news”?"
    assert confirm(editor, asked).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Digest)) == 0
    assert audit_actions() == ["digest edited", "digest deleted"]


def test_a_digest_no_longer_a_draft_cannot_be_edited_or_deleted(app, people):
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{people['digest']}"
    press_and_confirm(editor, path, "Send", at=f"{SUMMER}T10:00")
    assert "Edit this draft" not in page(editor.get(path)).get_text()
    refused = editor.get(f"{path}/edit", follow_redirects=True)
    assert "A scheduled digest cannot be edited; only a draft can." in page(refused).get_text()
    token = form_values(form_with_button(page(editor.get(path)), "Send"))["csrf_token"]
    deleted = editor.post(
        f"{path}/delete", data={"csrf_token": token, "confirmed": "yes"}, follow_redirects=True
    )
    assert "cannot be deleted; only a draft can" in page(deleted).get_text()
    assert digest_status(people["digest"]) == "scheduled"
