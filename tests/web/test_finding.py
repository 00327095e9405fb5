"""Finding anything: every long list in the console and the public archive, paged and filtered."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import create_news, create_subscriber, create_topics
from tests.helpers import errors_on, page, signed_in
from updates.news.topics import add_topic
from updates.paging import PER_PAGE

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
