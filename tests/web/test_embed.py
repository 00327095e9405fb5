"""The sign-up form in another site's iframe: framing rules, its own CSRF, the same flow."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.helpers import (
    BASE_URL,
    audit_actions,
    errors_on,
    followed,
    form_values,
    only_link,
    page,
    path_of,
    press,
    row_counts,
    signed_in,
    submit_only_form,
    subscriber,
)
from updates.extensions import db
from updates.models import ConsentEvent, EmbedOrigin
from updates.news.embeds import allow_origin
from updates.subscribers.consent import Action, Source

# What a browser sends with a form posted from the framed page itself (served by the test app).
FROM_THE_FRAME = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
NOTHING_STORED = {"Subscriber": 0, "SignupRequest": 0, "ConsentEvent": 0, "OutboundEmail": 0}


def embed_form(client, path: str = "/embed?topics=events,social-care"):
    response = client.get(path)
    assert response.status_code == 200
    return page(response).find("form", method="post")


def post_embedded(app, address: str, topics_sent: list[str], headers=FROM_THE_FRAME, **extra):
    """Fill in the framed form, then post it the way a third-party frame does: no cookies."""
    form = embed_form(app.test_client())
    values = {**form_values(form), "email": address, "topics": topics_sent, **extra}
    return app.test_client().post(path_of(form["action"]), data=values, headers=headers)


def test_the_embed_page_offers_the_chosen_topics_and_sets_no_cookie(client, topics):
    response = client.get("/embed?topics=events,social-care")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    form = page(response).find("form", method="post")
    boxes = form.find_all("input", attrs={"type": "checkbox", "name": "topics"})
    assert [box["value"] for box in boxes] == ["social-care", "events"]
    assert form.find("input", attrs={"name": "csrf_token", "type": "hidden"})["value"]
    assert form.find("input", attrs={"name": "website"}) is not None
    assert path_of(form["action"]) == "/embed?topics=events,social-care"


def test_without_topics_the_embed_offers_every_public_topic(client, topics):
    boxes = embed_form(client, "/embed").find_all("input", attrs={"name": "topics"})
    assert [box["value"] for box in boxes] == ["local-public-services", "social-care", "events"]


def test_an_embed_of_one_topic_asks_only_for_the_address(app, topics, run_jobs, mail_server):
    form = embed_form(app.test_client(), "/embed?topics=events")
    assert form.find_all("input", attrs={"type": "checkbox"}) == []
    values = {**form_values(form), "email": "solo@example.org"}
    response = app.test_client().post("/embed?topics=events", data=values, headers=FROM_THE_FRAME)
    assert response.status_code == 200
    run_jobs()
    submit_only_form(app.test_client(), only_link(mail_server.messages_to("solo@example.org")[0]))
    assert followed("solo@example.org") == {"events"}


def test_only_listed_sites_may_frame_the_embed_and_no_site_frames_other_pages(client, topics):
    assert framers(client.get("/embed")) == "frame-ancestors 'self'"
    allow_origin("https://www.example.org")
    allow_origin("http://intranet.example.org:8080")
    embedded = client.get("/embed")
    assert framers(embedded) == (
        "frame-ancestors 'self' http://intranet.example.org:8080 https://www.example.org"
    )
    assert "X-Frame-Options" not in embedded.headers
    for path in ("/", "/manage", "/admin/login", "/embed?topics=no-such-topic"):
        response = client.get(path)
        expected = "frame-ancestors 'self'"
        if path.startswith("/embed"):
            expected += " http://intranet.example.org:8080 https://www.example.org"
        else:
            assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert framers(response) == expected, path


def test_signing_up_in_the_frame_without_cookies_confirms_like_the_main_form(
    app, topics, run_jobs, mail_server
):
    response = post_embedded(app, "Framed@Example.org", ["events"])
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    assert subscriber("framed@example.org").status == "pending"

    run_jobs()
    link = only_link(mail_server.messages_to("framed@example.org")[0])
    assert submit_only_form(app.test_client(), link).status_code == 200
    assert subscriber("framed@example.org").status == "active"
    assert followed("framed@example.org") == {"events"}
    trail = db.session.execute(
        select(ConsentEvent.action, ConsentEvent.source).order_by(ConsentEvent.id)
    )
    assert [tuple(row) for row in trail] == [
        (Action.REQUESTED, Source.EMBED),
        (Action.CONFIRMED, Source.LINK),
    ]


def test_a_post_without_browser_headers_is_accepted_like_any_form_client(app, topics):
    assert post_embedded(app, "plain@example.org", ["events"], headers={}).status_code == 200
    assert subscriber("plain@example.org").status == "pending"


def _expired_token(app) -> str:
    from updates import tokens
    from updates.public.forms import EMBED_FORM

    with app.test_request_context():
        serializer = tokens._serializer(EMBED_FORM)
        real_time = time.time
        try:
            time.time = lambda: real_time() - 2 * 24 * 3600  # signed two days ago
            return serializer.dumps("sign-up")
        finally:
            time.time = real_time


@pytest.mark.parametrize(
    ("headers", "token_change", "problem"),
    [
        (FROM_THE_FRAME, {"csrf_token": ""}, "not sent from our page"),
        (FROM_THE_FRAME, {"csrf_token": "x" * 40}, "not sent from our page"),
        (FROM_THE_FRAME, "expired", "has expired"),
        ({"Origin": "https://attacker.example"}, {}, "only be sent from its own page"),
        ({"Sec-Fetch-Site": "cross-site"}, {}, "only be sent from its own page"),
        ({"Sec-Fetch-Site": "same-site"}, {}, "only be sent from its own page"),
        ({"Origin": "null"}, {}, "only be sent from its own page"),
    ],
)
def test_a_forged_or_stale_post_is_refused_and_stores_nothing(
    app, topics, headers, token_change, problem
):
    change = {"csrf_token": _expired_token(app)} if token_change == "expired" else token_change
    response = post_embedded(app, "victim@example.org", ["events"], headers=headers, **change)
    assert response.status_code == 400
    assert problem in response.get_data(as_text=True)
    assert row_counts() == NOTHING_STORED


@pytest.mark.parametrize("path", ["/embed?topics=no-such-topic", "/embed?topics=board-only"])
def test_a_snippet_naming_a_topic_not_offered_is_a_clear_400(client, topics, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "out of date" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("address", "topics_sent"),
    [
        ("victim@example.org\r\nBcc: everyone@example.org", ["events"]),
        ("not-an-address", ["events"]),
        ("someone@example.org", ["local-public-services"]),  # offered on the site, not here
        ("someone@example.org", []),
    ],
)
def test_bad_input_in_the_frame_is_a_400_that_stores_nothing(app, topics, address, topics_sent):
    assert post_embedded(app, address, topics_sent).status_code == 400
    assert row_counts() == NOTHING_STORED


def test_a_bot_filling_the_honeypot_in_the_frame_stores_nothing(app, topics):
    response = post_embedded(app, "bot@example.org", ["events"], website="https://spam.example")
    assert response.status_code == 200
    assert row_counts() == NOTHING_STORED


def test_the_frame_shares_the_per_address_limit_with_the_main_form(app, topics):
    answers = [post_embedded(app, "often@example.org", ["events"]).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]


# -- the console page ----------------------------------------------------------------------------


def test_staff_get_a_snippet_for_the_topics_they_tick(app, people, topics):
    editor = signed_in(app, "editor")
    snippet = page(editor.get("/admin/embed?topics=events&topics=social-care")).find(
        "textarea", id="snippet"
    )
    assert f'<iframe src="{BASE_URL}/embed?topics=social-care,events"' in (snippet.get_text())
    # Beside the frame, the script that fits it to the form, from the service itself.
    assert f'<script src="{BASE_URL}/static/embed.js" async></script>' in snippet.get_text()
    everything = page(editor.get("/admin/embed")).find("textarea", id="snippet").get_text()
    assert f'src="{BASE_URL}/embed"' in everything


def test_an_admin_lists_and_removes_a_site_and_the_audit_log_says_so(app, people, topics):
    admin = signed_in(app, "admin")
    response = press(admin, "/admin/embed", "Allow this site", origin=" https://WWW.Example.org/ ")
    assert response.status_code == 303
    assert framers(app.test_client().get("/embed")) == (
        "frame-ancestors 'self' https://www.example.org"
    )
    response = press(admin, "/admin/embed", "Remove")
    assert response.status_code == 303
    assert db.session.scalars(select(EmbedOrigin)).all() == []
    assert framers(app.test_client().get("/embed")) == "frame-ancestors 'self'"
    assert audit_actions() == ["embed origin allowed", "embed origin removed"]


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("https://www.example.org/signup", "no path"),
        ("https://www.example.org 'unsafe-inline'", "not a host name"),
        ("*", "https://host"),
        ("https://*.example.org", "not a host name"),
        ("javascript:alert(1)", "https://host"),
        ("ftp://files.example.org", "https://host"),
        ("https://www.example.org:99999", "not a web address"),
        ("https://user@www.example.org", "no path"),
        ("", "This field is required."),
    ],
)
def test_an_origin_that_is_not_one_is_a_400_that_lists_nothing(
    app, people, topics, origin, problem
):
    admin = signed_in(app, "admin")
    response = press(admin, "/admin/embed", "Allow this site", origin=origin)
    assert response.status_code == 400
    assert problem in errors_on(response)
    assert db.session.scalars(select(EmbedOrigin)).all() == []


def test_listing_a_site_twice_is_a_400(app, people, topics):
    allow_origin("https://www.example.org")
    admin = signed_in(app, "admin")
    response = press(admin, "/admin/embed", "Allow this site", origin="https://www.example.org")
    assert response.status_code == 400
    assert "already listed" in errors_on(response)


def framers(response) -> str:
    """The frame-ancestors directive of the answer's one content security policy."""
    [policy] = response.headers.getlist("Content-Security-Policy")
    [directive] = [d.strip() for d in policy.split(";") if d.strip().startswith("frame-ancestors")]
    return directive
