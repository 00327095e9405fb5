"""A test copy of a digest is marked as one, and its links do nothing; real newsletters are not."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from tests.helpers import (
    html_part,
    links_in,
    page,
    path_of,
    press,
    press_and_confirm,
    row_counts,
    signed_in,
    text_part,
)
from updates.extensions import db
from updates.models import Subscriber

BANNER = "asked for by editor@example.org. No subscriber got this email"


def a_test_copy(app, people, run_jobs, mail_server):
    """The copy the editor receives after pressing "Send me a test copy"."""
    editor = signed_in(app, "editor")
    assert (
        press(editor, f"/admin/digests/{people['digest']}", "Send me a test copy").status_code
        == 303
    )
    run_jobs()
    [copy] = mail_server.messages_to("editor@example.org")
    return copy


def test_a_test_copy_says_so_in_its_subject_both_parts_and_footer(
    app, people, run_jobs, mail_server
):
    copy = a_test_copy(app, people, run_jobs, mail_server)
    assert copy["Subject"] == "[Test] Programme news"
    text, html = text_part(copy), BeautifulSoup(html_part(copy), "html.parser")
    assert text.startswith(f"*** TEST COPY, {BANNER}")
    banner = html.select_one("p.test-copy")
    assert banner.get_text().startswith("Test copy, ") and BANNER in banner.get_text()
    assert html.find("h1").find_previous("p", class_="test-copy") is banner  # above the news
    for part in (text, html.get_text()):
        assert "follows these topics" not in part
        assert "went to editor@example.org only, at the request of editor@example.org" in part
        assert "Budgets" in part
    manage = [a for a in html.find_all("a") if "manage" in a.get_text().lower()]
    assert manage and all("/test-copy/manage" in a["href"] for a in manage)


def test_a_test_copys_links_open_a_page_saying_they_are_inactive_and_change_nothing(
    app, client, people, run_jobs, mail_server
):
    copy = a_test_copy(app, people, run_jobs, mail_server)
    before = row_counts()
    ours = [link for link in links_in(copy) if link.startswith("https://updates.example.org/")]
    personal = [link for link in ours if "/test-copy/" in link]
    assert len(personal) == 2  # manage and unsubscribe; nothing else points at a person
    assert not [link for link in ours if "/manage/" in link or "/unsubscribe/" in link]
    for link in personal:
        shown = client.get(path_of(link))
        assert shown.status_code == 200
        assert page(shown).h1.get_text() == "Links are inactive in a test copy"
        assert "nothing has been changed" in page(shown).get_text()
    one_click = copy["List-Unsubscribe"][1:-1]
    assert "/test-copy/unsubscribe" in one_click
    answer = app.test_client().post(path_of(one_click), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert row_counts() == before
    reader = db.session.get(Subscriber, people["subscriber"])
    assert (reader.status, [s.topic.slug for s in reader.subscriptions]) == ("active", ["lps"])
    assert client.get("/test-copy/erase").status_code == 404


def test_the_newsletter_itself_carries_no_test_marks(app, people, run_jobs, mail_server):
    editor = signed_in(app, "editor")
    press_and_confirm(editor, f"/admin/digests/{people['digest']}", "Send")
    run_jobs()
    [sent] = mail_server.messages_to("reader@example.org")
    assert sent["Subject"] == "Programme news"
    for part in (text_part(sent), html_part(sent)):
        assert "test copy" not in part.lower()
        assert "/test-copy/" not in part
        assert "reader@example.org follows these topics" in part
    assert "/unsubscribe/" in sent["List-Unsubscribe"]


@pytest.fixture
def queue_redis_down(app_config):
    app_config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # the limiter keeps its own, working one


def test_a_test_copy_that_cannot_be_queued_says_so(queue_redis_down, app, people, mail_server):
    editor = signed_in(app, "editor")
    asked = press(editor, f"/admin/digests/{people['digest']}", "Send me a test copy")
    said = page(editor.get(asked.headers["Location"])).find(attrs={"role": "status"}).get_text()
    assert said == "No test copy was sent: the queue cannot be reached. Try again in a minute."
    assert mail_server.messages_to("editor@example.org") == []
