"""Finding anything: every long list in the console and the public archive, paged and filtered."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import create_news, create_subscriber, create_topics
from tests.helpers import errors_on, page, signed_in
from updates.extensions import db
from updates.models import AuditEvent
from updates.news.topics import add_topic
from updates.paging import PER_PAGE
from updates.staff.accounts import find_staff

HOSTILE = [
    "page=-1",
    "page=0",
    "page=abc",
    "page=1e3",
    f"page={10**12}",
    "q=%00",
    f"q={'x' * 5000}",
]


def rows(response, cell: str = "tbody tr td:first-child") -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [td.get_text(" ", strip=True) for td in page(response).select(cell)]


def next_link(response) -> str:
    """The pager's link to the next page, as a path with its query string."""
    link = page(response).select_one('nav.pager a[rel="next"]')
    assert link is not None, "no next page"
    return link["href"]


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


# -- subscribers -----------------------------------------------------------------------------------


@pytest.fixture
def readers(people) -> list[str]:
    """More care readers than a page holds, oldest first, beside the fixture's one lps reader."""
    addresses = [f"carer{n:03}@example.org" for n in range(PER_PAGE + 5)]
    for address in addresses:
        create_subscriber(address, ["care"])
    create_subscriber("waiting@example.org", ["care"], status="pending")
    return addresses


def test_subscribers_come_a_page_at_a_time_newest_first(app, readers):
    editor = signed_in(app, "editor")
    first = editor.get("/admin/subscribers?topic=care&status=active")
    newest = list(reversed(readers))
    assert rows(first) == newest[:PER_PAGE]
    assert f"{len(readers)} subscribers match" in page(first).get_text()
    href = next_link(first)
    assert query_of(href) == {"topic": ["care"], "status": ["active"], "page": ["2"]}
    assert rows(editor.get(href)) == newest[PER_PAGE:]
    assert page(editor.get(href)).select_one('nav.pager a[rel="next"]') is None


def test_subscriber_filters_narrow_the_list_and_past_the_end_is_the_last_page(app, readers):
    editor = signed_in(app, "editor")
    assert rows(editor.get("/admin/subscribers?q=CARER05")) == [
        f"carer{n:03}@example.org" for n in reversed(range(50, PER_PAGE + 5))
    ]
    assert rows(editor.get("/admin/subscribers?status=pending")) == ["waiting@example.org"]
    assert rows(editor.get("/admin/subscribers?topic=lps")) == ["reader@example.org"]
    assert rows(editor.get("/admin/subscribers?topic=lps&page=7")) == ["reader@example.org"]
    nobody = editor.get("/admin/subscribers?q=nobody")
    assert "No subscribers match." in page(nobody).get_text()


def test_hostile_subscriber_queries_are_refused_with_a_reason(app, readers):
    editor = signed_in(app, "editor")
    for query in HOSTILE:
        response = editor.get(f"/admin/subscribers?{query}")
        assert response.status_code == 400, query
        assert errors_on(response), query


# -- the public archive ----------------------------------------------------------------------------


@pytest.fixture
def archive(app) -> list[str]:
    """More public updates than a page holds, oldest first, and one for a hidden topic."""
    create_topics("lps", "care")
    add_topic("board", "Board papers", public=False)
    titles = [f"Budget note {n:03}" for n in range(PER_PAGE + 3)]
    for n, title in enumerate(titles):
        create_news(title, ["lps" if n % 2 else "care"])
    create_news("Budget note for the board", ["board"])
    return titles


def headlines(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [a.get_text() for a in page(response).select("article h2 a")]


def test_the_archive_comes_a_page_at_a_time_and_keeps_its_topic_and_search(client, archive):
    newest = list(reversed(archive))
    first = client.get("/updates")
    assert headlines(first) == newest[:PER_PAGE]
    assert headlines(client.get(next_link(first))) == newest[PER_PAGE:]
    care = [title for n, title in enumerate(archive) if n % 2 == 0][::-1]
    assert headlines(client.get("/updates?topic=care")) == care
    found = client.get("/updates?q=NOTE+05&topic=lps")
    assert headlines(found) == ["Budget note 051"]
    assert "1 update matches" in page(found).get_text()
    nothing = client.get("/updates?q=minutes")
    assert headlines(nothing) == []
    assert "No update has a title like that." in page(nothing).get_text()
    assert query_of(next_link(client.get("/updates?q=budget"))) == {
        "q": ["budget"],
        "page": ["2"],
    }
    for query in HOSTILE:
        assert client.get(f"/updates?{query}").status_code == 400, query


def test_the_sign_up_page_links_to_the_archive_and_every_page_names_its_feed(client, archive):
    signup = page(client.get("/"))
    assert signup.select_one('a[href="/updates"]') is not None
    for path in ["/", "/updates", "/updates?topic=care", "/manage"]:
        links = page(client.get(path)).select('head link[rel="alternate"]')
        assert links, path
        for link in links:
            assert link["type"] == "application/atom+xml"
            feed = client.get(link["href"])
            assert feed.status_code == 200 and feed.mimetype == "application/atom+xml", path
    topic_feeds = page(client.get("/updates?topic=care")).select('head link[rel="alternate"]')
    assert [link["href"] for link in topic_feeds] == ["/updates.atom", "/topics/care/updates.atom"]


# -- the audit log ---------------------------------------------------------------------------------


@pytest.fixture
def log(people) -> dict[str, int]:
    """An admin's actions, one a day for more days than a page holds, and an editor's two."""
    admin, editor = (find_staff(f"{who}@example.org") for who in ("admin", "editor"))
    start = datetime(2026, 1, 1, 9, 30)
    db.session.add_all(
        AuditEvent(
            staff_id=admin.id,
            action="update published",
            detail=f"day {n}",
            created_at=start + timedelta(days=n),
        )
        for n in range(PER_PAGE + 4)
    )
    db.session.add_all(
        AuditEvent(staff_id=editor.id, action=action, detail="editor", created_at=start)
        for action in ("digest composed", "update published")
    )
    db.session.commit()
    return {"admin": admin.id, "editor": editor.id}


def details(response) -> list[str]:
    return rows(response, "tbody tr td:nth-of-type(4)")


def test_the_audit_log_pages_newest_first_and_filters_by_who_what_and_when(app, log):
    admin = signed_in(app, "admin")
    by_admin = admin.get(f"/admin/audit?who={log['admin']}")
    newest = [f"day {n}" for n in reversed(range(PER_PAGE + 4))]
    assert details(by_admin) == newest[:PER_PAGE]
    assert f"{PER_PAGE + 4} actions match" in page(by_admin).get_text()
    href = next_link(by_admin)
    assert query_of(href) == {"who": [str(log["admin"])], "page": ["2"]}
    assert details(admin.get(href)) == newest[PER_PAGE:]

    assert details(admin.get(f"/admin/audit?who={log['editor']}&action=digest+composed")) == [
        "editor"
    ]
    days = admin.get("/admin/audit?action=update+published&since=2026-01-02&until=2026-01-04")
    assert details(days) == ["day 3", "day 2", "day 1"]
    assert details(admin.get("/admin/audit?until=2026-01-01")) == ["editor", "editor", "day 0"]
    assert "No actions match." in page(admin.get("/admin/audit?since=2030-01-01")).get_text()


def test_hostile_audit_queries_are_refused_with_a_reason(app, log):
    admin = signed_in(app, "admin")
    for query in [
        *HOSTILE[:5],
        "who=abc",
        "who=999999",
        f"who={2**40}",
        "action=nonsense",
        "since=yesterday",
        "until=2026-02-30",
        "since=2026-03-01&until=2026-02-01",
        f"since={'9' * 5000}",
        "action=%00",
    ]:
        response = admin.get(f"/admin/audit?{query}")
        assert response.status_code == 400, query
        assert errors_on(response), query
    assert signed_in(app, "editor").get("/admin/audit?page=2").status_code == 403
