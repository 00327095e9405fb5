"""A subscriber manages topics, unsubscribes (one click too) and controls their data by link."""

from __future__ import annotations

import json
import time

import pytest
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, select

from tests.helpers import (
    BASE_URL,
    form_values,
    html_part,
    links_in,
    page,
    path_of,
    sign_up,
    submit_only_form,
)
from updates.addresses import address_hash
from updates.extensions import db
from updates.models import ConsentEvent, Subscriber, Suppression
from updates.subscribers.preferences import revoke_links

ADDRESS = "reader@example.org"


@pytest.fixture
def welcome(client, topics, run_jobs, mail_server):
    """A subscriber of two topics, and the welcome email they received."""
    sign_up(client, ADDRESS, ["social-care", "events"])
    run_jobs()
    [confirm] = mail_server.messages_to(ADDRESS)
    link = next(link for link in links_in(confirm) if "/confirm/" in link)
    submit_only_form(client, link)
    run_jobs()
    return mail_server.messages_to(ADDRESS)[-1]


def reader() -> Subscriber:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber).where(Subscriber.id.is_not(None)))


def followed() -> dict[str, str]:
    return {s.topic.slug: s.frequency for s in reader().subscriptions}


def link_with(message, fragment: str) -> str:
    return next(link for link in links_in(message) if fragment in link)


def list_unsubscribe_url(message) -> str:
    header = message["List-Unsubscribe"]
    assert header.startswith("<") and header.endswith(">")
    return header[1:-1]


def test_the_welcome_email_carries_manage_and_one_click_unsubscribe_links(welcome):
    assert "You are subscribed" in welcome["Subject"]
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert list_unsubscribe_url(welcome).startswith(f"{BASE_URL}/unsubscribe/")
    html = page_of(html_part(welcome))
    manage = [a for a in html.find_all("a") if "manage" in a.get_text().lower()]
    assert manage and manage[0]["href"].startswith(f"{BASE_URL}/manage/")
    assert "10 Test Street" in html.get_text()


def page_of(html: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def test_the_manage_page_ticks_the_followed_topics_and_saves_exactly_those_ticked(client, welcome):
    manage = path_of(link_with(welcome, "/manage/"))
    form = page(client.get(manage)).find("form", method="post")
    boxes = {
        box["value"]: box.has_attr("checked")
        for box in form.find_all("input", attrs={"type": "checkbox", "name": "topics"})
    }
    assert boxes == {"local-public-services": False, "social-care": True, "events": True}

    values = form_values(form)
    values["topics"] = ["local-public-services", "events"]
    values["frequency-events"] = "digest"
    saved = client.post(manage, data=values)
    assert saved.status_code == 303
    assert "saved" in client.get(manage).get_data(as_text=True)
    assert followed() == {"local-public-services": "all", "events": "digest"}
    newest_first = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).all()
    last, left = newest_first[0], newest_first[1]
    assert (left.action, left.source, left.topics) == ("unsubscribed", "link", ["social-care"])
    assert (last.action, last.source) == ("changed-topics", "link")
    assert last.topics == ["events", "local-public-services"]


def test_unticking_everything_unsubscribes(client, welcome):
    manage = path_of(link_with(welcome, "/manage/"))
    values = form_values(page(client.get(manage)).find("form", method="post"))
    values.pop("topics")
    client.post(manage, data=values)
    assert followed() == {}
    assert reader().status == "unsubscribed"


def test_the_manage_form_without_its_csrf_token_changes_nothing(client, welcome):
    manage = path_of(link_with(welcome, "/manage/"))
    response = client.post(manage, data={"topics": ["local-public-services"]})
    assert response.status_code == 400
    assert followed() == {"social-care": "all", "events": "all"}


def test_a_bad_frequency_or_topic_is_refused(client, welcome):
    manage = path_of(link_with(welcome, "/manage/"))
    values = form_values(page(client.get(manage)).find("form", method="post"))
    assert client.post(manage, data={**values, "frequency-events": "hourly"}).status_code == 400
    assert client.post(manage, data={**values, "topics": ["nope"]}).status_code == 400
    assert followed() == {"social-care": "all", "events": "all"}


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe_needs_no_cookie_or_token_and_is_idempotent(app, welcome, encoding):
    url = path_of(list_unsubscribe_url(welcome))
    anonymous = app.test_client(use_cookies=False)
    body = {"List-Unsubscribe": "One-Click"}
    for _ in range(2):
        if encoding == "multipart":
            response = anonymous.post(url, data=body, content_type="multipart/form-data")
        else:
            response = anonymous.post(url, data=body)
        assert response.status_code == 200
        assert "Location" not in response.headers
    assert followed() == {}
    assert reader().status == "unsubscribed"
    event = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
    assert (event.action, event.source) == ("unsubscribed", "one-click")


def test_one_click_leaves_only_the_topics_that_email_was_sent_for(app, client, welcome):
    from updates.links import list_unsubscribe_headers
    from updates.models import Topic

    events = db.session.scalar(select(Topic).where(Topic.slug == "events"))
    header = list_unsubscribe_headers(reader(), [events.id])["List-Unsubscribe"]
    response = app.test_client(use_cookies=False).post(
        path_of(header[1:-1]), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert followed() == {"social-care": "all"}
    assert reader().status == "active"


def test_opening_the_unsubscribe_link_changes_nothing_until_the_button_is_pressed(client, welcome):
    url = list_unsubscribe_url(welcome)
    for _ in range(2):
        shown = client.get(path_of(url))
        assert shown.status_code == 200
    assert followed() == {"social-care": "all", "events": "all"}
    refused = client.post(path_of(url), data={})
    assert refused.status_code == 400
    assert followed() == {"social-care": "all", "events": "all"}
    done = submit_only_form(client, url)
    assert done.status_code == 200
    assert "You are unsubscribed" in done.get_data(as_text=True)
    assert followed() == {}


def test_tampered_and_revoked_links_get_a_clear_page_and_change_nothing(client, app, welcome):
    manage = path_of(link_with(welcome, "/manage/"))
    unsubscribe = path_of(list_unsubscribe_url(welcome))
    for bad in (
        manage[:-2] + "xx",
        unsubscribe[:-2] + "xx",
        "/manage/garbage",
        "/unsubscribe/garbage",
    ):
        assert client.get(bad).status_code == 400
    revoke_links(reader())
    assert client.get(manage).status_code == 400
    one_click = app.test_client(use_cookies=False).post(
        unsubscribe, data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 400
    assert "does not work" in one_click.get_data(as_text=True)
    assert followed() == {"social-care": "all", "events": "all"}


def test_an_expired_manage_link_offers_a_fresh_one_by_email(
    client, welcome, run_jobs, mail_server, monkeypatch
):
    manage = path_of(link_with(welcome, "/manage/"))
    later = int(time.time()) + 31 * 24 * 3600
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
        expired = client.get(manage)
        assert expired.status_code == 410
        form = page(expired).find("form", method="post")
        assert client.post(form["action"], data=form_values(form)).status_code == 200
    run_jobs()
    fresh = mail_server.messages_to(ADDRESS)[-1]
    assert "manage" in fresh["Subject"].lower()
    assert client.get(path_of(link_with(fresh, "/manage/"))).status_code == 200


def test_asking_for_a_manage_link_answers_the_same_for_anyone(
    client, welcome, run_jobs, mail_server
):
    def ask(address: str) -> str:
        form = page(client.get("/manage")).find("form", method="post")
        response = client.post("/manage", data={**form_values(form), "email": address})
        assert response.status_code == 200
        return response.get_data(as_text=True).replace(address, "ADDRESS")

    assert ask(ADDRESS) == ask("stranger@example.org")
    run_jobs()
    assert mail_server.messages_to("stranger@example.org") == []
    assert "manage" in mail_server.messages_to(ADDRESS)[-1]["Subject"].lower()
    assert client.post("/manage", data={"email": ADDRESS}).status_code == 400  # no CSRF token


@pytest.fixture
def fortnight_links(app_config):
    app_config["MANAGE_MAX_AGE_DAYS"] = 14


def test_the_link_request_page_says_what_the_link_does_and_how_long_it_lasts(
    fortnight_links, client, topics
):
    form = page(client.get("/manage")).find("form", method="post")
    answer = page(client.post("/manage", data={**form_values(form), "email": ADDRESS}))
    lifetime = answer.find(id="link-lifetime").get_text()
    assert "manage your preferences" in lifetime
    assert "works for 14 days" in lifetime
    assert "confirm" not in answer.find("main").get_text().lower()


def test_emails_to_one_address_are_rate_limited_across_sign_up_and_link_requests(client, welcome):
    values = form_values(page(client.get("/manage")).find("form", method="post"))
    answers = [
        client.post("/manage", data={**values, "email": ADDRESS}).status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]  # the sign-up was the first of four a minute
    assert sign_up(client, ADDRESS, ["events"]).status_code == 429


def test_the_download_holds_the_subscription_and_the_whole_consent_trail(client, welcome):
    manage = path_of(link_with(welcome, "/manage/"))
    download = client.get(page(client.get(manage)).find("a", string="Download your data")["href"])
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    data = json.loads(download.get_data(as_text=True))
    assert data["email"] == ADDRESS
    assert data["status"] == "active"
    assert {s["topic"] for s in data["subscriptions"]} == {"social-care", "events"}
    assert [e["action"] for e in data["consent_events"]] == ["requested", "confirmed"]
    assert "I agree" in data["consent_events"][0]["statement"]
    assert {m["kind"] for m in data["emails"]} == {"confirm", "welcome"}


def test_erasure_removes_personal_data_keeps_a_hash_and_blocks_every_way_back(
    app, client, welcome, run_jobs, mail_server
):
    manage = path_of(link_with(welcome, "/manage/"))
    erase = page(client.get(manage)).find("a", string="Erase your data")["href"]
    assert client.get(erase).status_code == 200
    assert reader().email == ADDRESS  # showing the page erased nothing
    assert submit_only_form(client, erase).status_code == 200

    gone = reader()
    assert (gone.email, gone.status, gone.subscriptions) == (None, "erased", [])
    assert (
        db.session.scalar(
            select(Suppression.email).where(Suppression.email_hash == address_hash(ADDRESS))
        )
        is None
    )
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 1
    events = db.session.scalars(select(ConsentEvent)).all()
    assert all(e.ip is None and e.user_agent is None for e in events)
    assert events[-1].action == "erased"

    for link in (manage, path_of(list_unsubscribe_url(welcome))):
        assert client.get(link).status_code == 400
    mail_server.reset()
    assert sign_up(client, ADDRESS.upper(), ["events"]).status_code == 200
    run_jobs()
    assert mail_server.received == []
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1
