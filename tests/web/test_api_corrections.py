"""Correcting and withdrawing updates, editing and deleting drafts, and sends that would reach
nobody, through the API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import audit_actions, digest_status, html_part, page, text_part
from tests.web.test_api import Api, assert_error, new_token
from updates import queues
from updates.extensions import db
from updates.models import (
    Batch,
    Delivery,
    Digest,
    DigestUpdate,
    Update,
    UpdateRevision,
)
from updates.queues import Jobs


@pytest.fixture
def api(app, client) -> Api:
    return Api(client, new_token(app, "editor@example.org", "editor"))


@pytest.fixture
def news(app) -> dict[str, Any]:
    """Topics lps and care, a reader of each, an update in lps and a draft digest of it."""
    create_topics("lps", "care")
    create_subscriber("ada@example.org", ["lps"])
    create_subscriber("cy@example.org", ["care"])
    item = create_news("Council budgets", ["lps"], "Budgets rise by **2%**.")
    return {"update": item, "digest": create_test_digest([item], ["lps"])}


def patch(api, path: str, body: Any):
    return api.client.patch(path, json=body, headers=api.headers)


def delete(api, path: str):
    return api.client.delete(path, headers=api.headers)


def what_it_says(update_id: int) -> tuple[str, str, int]:
    db.session.expire_all()
    item = db.session.get(Update, update_id)
    revisions = db.session.scalar(select(func.count()).where(UpdateRevision.update_id == update_id))
    return item.title, item.body_markdown, revisions


# --- corrections


def test_a_correction_shows_on_its_page_in_the_archive_and_the_feed_with_its_history_kept(
    api, client, news
):
    update_id = news["update"].id
    answer = patch(
        api,
        f"/api/updates/{update_id}",
        {"title": "Council budgets (corrected)", "body": "Budgets rise by **3%**."},
    )

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["title"] == "Council budgets (corrected)"
    assert answer.get_json()["revisions"] == 2
    shown = page(client.get(f"/updates/{update_id}"))
    assert shown.h1.get_text() == "Council budgets (corrected)"
    assert shown.find("strong").get_text() == "3%"
    assert "corrected" in shown.find(class_="hint").get_text()
    assert "Council budgets (corrected)" in page(client.get("/updates")).get_text()
    feed = client.get("/updates.atom").get_data(as_text=True)
    assert "Council budgets (corrected)" in feed and "2%" not in feed
    history = db.session.scalars(
        select(UpdateRevision).where(UpdateRevision.update_id == update_id).order_by("id")
    ).all()
    assert [r.title for r in history] == ["Council budgets", "Council budgets (corrected)"]
    assert history[1].staff.email == "editor@example.org"
    assert audit_actions()[-1] == "update corrected"


def test_moving_an_update_to_another_topic_moves_it_in_later_digests(api, news, run_jobs):
    update_id = news["update"].id
    assert patch(api, f"/api/updates/{update_id}", {"topics": ["care"]}).status_code == 200

    # The draft to lps no longer has an update for its topics; one to care does.
    assert_error(api.post(f"/api/digests/{news['digest'].id}/send"), 409, "none of its updates")
    made = api.post("/api/digests", {"subject": "Care", "updates": [update_id], "topics": ["care"]})
    assert api.post(f"/api/digests/{made.get_json()['id']}/send").status_code == 202


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"topics": ["nope"]}, 400, "unknown topic"),
        ({"topics": []}, 400, "at least one topic"),
        ({"title": ""}, 400, "title is required"),
        ({"title": "   "}, 400, "title is required"),
        ({"title": "x" * 301}, 400, "longer than 300"),
        ({"body": "x" * 100_001}, 400, "longer than 100000"),
        ({"title": 5}, 400, "title must be a string"),
        ({"topics": "lps"}, 400, "topics must be a list"),
        ({"topics": [1]}, 400, "topics must be a list of topic slugs"),
        ({"title": "T", "published": True}, 400, "unknown field: published"),
        ({}, 400, "give at least one of"),
        ([], 400, "JSON object"),
    ],
)
def test_a_bad_correction_is_refused_and_changes_nothing(api, news, body, status, fragment):
    update_id = news["update"].id
    before = what_it_says(update_id)
    assert_error(patch(api, f"/api/updates/{update_id}", body), status, fragment)
    assert what_it_says(update_id) == before
    assert "update corrected" not in audit_actions()


def test_correcting_an_unknown_or_withdrawn_update_is_refused(api, news):
    assert_error(patch(api, "/api/updates/999", {"title": "T"}), 404)
    assert_error(patch(api, f"/api/updates/{2**31}", {"title": "T"}), 404)
    update_id = news["update"].id
    assert delete(api, f"/api/updates/{update_id}").status_code == 204
    assert_error(patch(api, f"/api/updates/{update_id}", {"title": "T"}), 409, "withdrawn")


def test_a_digest_that_started_sending_keeps_its_copy_when_the_update_is_corrected(
    api, news, run_jobs, mail_server
):
    digest_id, update_id = news["digest"].id, news["update"].id
    create_subscriber("bob@example.org", ["lps"])
    assert api.post(f"/api/digests/{digest_id}/send").status_code == 202
    run_jobs()
    assert digest_status(digest_id) == "sent"
    [first] = mail_server.messages_to("bob@example.org")

    corrected = patch(api, f"/api/updates/{update_id}", {"title": "Council budgets, v2"})
    assert corrected.status_code == 200
    # Bob's delivery is owed again, as after a worker died mid-batch: its re-run renders the copy
    # the digest started with, not the correction.
    db.session.execute(
        update(Delivery).where(Delivery.digest_id == digest_id).values(status="pending")
    )
    db.session.execute(
        update(Batch).where(Batch.digest_id == digest_id).values(done=False, lease_until=None)
    )
    db.session.execute(update(Digest).where(Digest.id == digest_id).values(status="sending"))
    db.session.commit()
    mail_server.reset()
    for batch_id in db.session.scalars(select(Batch.id).where(Batch.digest_id == digest_id)):
        queues.queue(queues.SEND).enqueue(Jobs.SEND_BATCH, batch_id)  # as the sweeper does
    run_jobs()
    [again] = mail_server.messages_to("bob@example.org")
    assert "Council budgets" in text_part(first) and "v2" not in text_part(again)
    assert html_part(again).count("Council budgets") == html_part(first).count("Council budgets")

    # A later digest carries the correction to a reader who has not had the update; Bob has,
    # and an update reaches each reader at most once.
    create_subscriber("dee@example.org", ["lps"])
    later = api.post(
        "/api/digests", {"subject": "Later", "updates": [update_id], "topics": ["lps"]}
    )
    later_id = later.get_json()["id"]
    mail_server.reset()
    assert api.post(f"/api/digests/{later_id}/send").status_code == 202
    run_jobs()
    [corrected] = mail_server.messages_to("dee@example.org")
    assert "Council budgets, v2" in text_part(corrected)
    assert mail_server.messages_to("bob@example.org") == []


# --- withdrawal


def test_a_withdrawn_update_is_gone_from_its_page_the_archive_the_feeds_and_new_digests(
    api, client, news
):
    update_id = news["update"].id
    answer = delete(api, f"/api/updates/{update_id}")

    assert answer.status_code == 204 and answer.get_data() == b""
    gone = client.get(f"/updates/{update_id}")
    assert gone.status_code == 410
    assert "withdrawn" in page(gone).h1.get_text()
    assert "Council budgets" not in client.get("/updates").get_data(as_text=True)
    assert "Council budgets" not in client.get("/updates.atom").get_data(as_text=True)
    assert "Council budgets" not in client.get("/topics/lps/updates.atom").get_data(as_text=True)
    assert_error(
        api.post("/api/digests", {"subject": "S", "updates": [update_id], "topics": ["lps"]}),
        400,
        f"no published update with id {update_id}",
    )
    assert_error(
        patch(api, f"/api/digests/{news['digest'].id}", {"updates": [update_id]}),
        400,
        "no published update",
    )


def test_withdrawing_takes_it_out_of_drafts_and_a_scheduled_digest_left_empty_goes_back(api, news):
    update_id = news["update"].id
    other = create_news("Care news", ["lps"])
    mixed = create_test_digest([news["update"], other], ["lps"])
    assert api.post(f"/api/digests/{news['digest'].id}/send", {"at": "2030-01-31T09:00Z"})
    assert digest_status(news["digest"].id) == "scheduled"

    assert delete(api, f"/api/updates/{update_id}").status_code == 204

    db.session.expire_all()
    assert [i.update_id for i in db.session.get(Digest, mixed.id).items] == [other.id]
    emptied = db.session.get(Digest, news["digest"].id)
    assert (emptied.status, emptied.items, emptied.scheduled_at) == ("draft", [], None)
    assert "withdrawn" in emptied.note
    assert_error(api.post(f"/api/digests/{emptied.id}/send"), 409, "none of its updates")


def test_withdrawing_twice_answers_204_and_is_audited_once(api, news):
    update_id = news["update"].id
    assert delete(api, f"/api/updates/{update_id}").status_code == 204
    assert delete(api, f"/api/updates/{update_id}").status_code == 204
    assert audit_actions().count("update withdrawn") == 1
    assert_error(delete(api, "/api/updates/999"), 404)


def test_a_sent_digest_keeps_the_update_it_carried_when_it_is_withdrawn(api, news, run_jobs):
    digest_id, update_id = news["digest"].id, news["update"].id
    assert api.post(f"/api/digests/{digest_id}/send").status_code == 202
    run_jobs()
    assert delete(api, f"/api/updates/{update_id}").status_code == 204
    db.session.expire_all()
    [item] = db.session.scalars(select(DigestUpdate).where(DigestUpdate.digest_id == digest_id))
    assert item.update_id == update_id and item.shown.title == "Council budgets"


# --- drafts


def test_a_draft_digest_is_edited_and_deleted_and_each_change_audited(api, news):
    digest_id = news["digest"].id
    other = create_news("Care news", ["care"])
    changed = patch(
        api,
        f"/api/digests/{digest_id}",
        {
            "subject": "April news",
            "intro": "Spring *is* here.",
            "updates": [other.id, news["update"].id],
            "topics": ["lps", "care"],
            "kind": "announcement",
        },
    )
    assert changed.status_code == 200
    assert changed.get_json() == {"id": digest_id, "status": "draft"}
    db.session.expire_all()
    digest = db.session.get(Digest, digest_id)
    assert (digest.subject, digest.kind) == ("April news", "announcement")
    assert "<em>is</em>" in digest.intro_html
    assert [i.update_id for i in digest.items] == [other.id, news["update"].id]
    assert [t.slug for t in digest.topics] == ["lps", "care"]

    assert delete(api, f"/api/digests/{digest_id}").status_code == 204
    assert db.session.scalar(select(func.count()).where(Digest.id == digest_id)) == 0
    assert api.get(f"/api/digests/{digest_id}").status_code == 404
    assert audit_actions()[-2:] == ["digest edited", "digest deleted"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"subject": ""}, "subject is required"),
        ({"subject": "A\nB"}, "one line"),
        ({"subject": "x" * 301}, "longer than 300"),
        ({"topics": ["nope"]}, "unknown topic"),
        ({"topics": []}, "at least one topic"),
        ({"updates": [999]}, "no published update"),
        ({"updates": ["1"]}, "updates must be a list of ids"),
        ({"kind": "memo"}, "kind must be one of"),
        ({"colour": "red"}, "unknown field: colour"),
        ({}, "give at least one of"),
    ],
)
def test_a_bad_change_to_a_draft_is_refused_and_changes_nothing(api, news, body, fragment):
    digest_id = news["digest"].id
    assert_error(patch(api, f"/api/digests/{digest_id}", body), 400, fragment)
    db.session.expire_all()
    digest = db.session.get(Digest, digest_id)
    assert (digest.subject, [t.slug for t in digest.topics]) == ("Programme news", ["lps"])
    assert [i.update_id for i in digest.items] == [news["update"].id]


def test_only_a_draft_may_be_edited_or_deleted(api, news, run_jobs):
    digest_id = news["digest"].id
    assert api.post(f"/api/digests/{digest_id}/send", {"at": "2030-01-31T09:00Z"})
    assert_error(patch(api, f"/api/digests/{digest_id}", {"subject": "X"}), 409, "scheduled")
    assert_error(delete(api, f"/api/digests/{digest_id}"), 409, "only a draft")
    assert api.post(f"/api/digests/{digest_id}/send").status_code == 202
    run_jobs()
    assert digest_status(digest_id) == "sent"
    assert_error(delete(api, f"/api/digests/{digest_id}"), 409, "a sent digest cannot be deleted")
    assert db.session.get(Digest, digest_id) is not None
    assert_error(delete(api, "/api/digests/999"), 404)


# --- sends that cannot surprise


def test_a_digest_no_active_subscriber_would_get_is_refused_and_stays_a_draft(api, news):
    create_topics("board")
    create_subscriber("gone@example.org", ["board"], status="unsubscribed")
    digest = create_test_digest([create_news("Board news", ["board"])], ["board"])

    assert_error(api.post(f"/api/digests/{digest.id}/send"), 409, "no active subscriber")
    assert_error(
        api.post(f"/api/digests/{digest.id}/send", {"at": "2030-01-31T09:00Z"}), 409, "nothing"
    )
    assert digest_status(digest.id) == "draft"
    assert db.session.scalar(select(func.count()).where(Delivery.digest_id == digest.id)) == 0
    assert "digest sending" not in audit_actions()


def test_a_digest_whose_updates_are_for_none_of_its_topics_is_refused(api, news):
    mismatched = create_test_digest([news["update"]], ["care"])
    assert_error(
        api.post(f"/api/digests/{mismatched.id}/send"), 409, "none of its updates is for any"
    )
    nothing = create_test_digest([], ["lps"])
    assert_error(api.post(f"/api/digests/{nothing.id}/send"), 409, "none of its updates")
    assert digest_status(mismatched.id) == digest_status(nothing.id) == "draft"


def test_digest_only_readers_do_not_count_for_an_announcement(api, news):
    create_topics("events")
    create_subscriber("dee@example.org", {"events": "digest"})
    item = create_news("Summit", ["events"])
    announcement = create_test_digest([item], ["events"], kind="announcement")
    assert_error(api.post(f"/api/digests/{announcement.id}/send"), 409, "no active subscriber")
    digest = create_test_digest([item], ["events"])
    assert api.post(f"/api/digests/{digest.id}/send").status_code == 202
