"""The public archive of updates, filtered by topic, and its Atom feeds."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.factories import create_news, create_topics
from tests.helpers import BASE_URL, page
from updates.news.topics import add_topic

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def news(app):
    create_topics("lps", "care")
    add_topic("board", "Board papers", public=False)
    return {
        "first": create_news("First budgets story", ["lps"]),
        "second": create_news("Care guidance", ["care", "lps"]),
        "secret": create_news("Board minutes", ["board"]),
    }


def test_the_archive_lists_public_news_newest_first_and_filters_by_topic(client, news):
    titles = [a.get_text() for a in page(client.get("/updates")).select("article h2 a")]
    assert titles == ["Care guidance", "First budgets story"]
    care = [a.get_text() for a in page(client.get("/updates?topic=care")).select("article h2 a")]
    assert care == ["Care guidance"]
    assert client.get("/updates?topic=board").status_code == 404
    assert client.get("/updates?topic=nope").status_code == 404
    assert client.get(f"/updates/{news['secret'].id}").status_code == 404
    assert client.get(f"/updates/{news['first'].id}").status_code == 200


def test_the_atom_feeds_hold_the_public_news_with_absolute_links(client, news):
    response = client.get("/updates.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)
    entries = feed.findall(f"{ATOM}entry")
    assert sorted(e.find(f"{ATOM}title").text for e in entries) == [
        "Care guidance",
        "First budgets story",
    ]
    assert all(
        e.find(f"{ATOM}link").get("href").startswith(f"{BASE_URL}/updates/") for e in entries
    )
    assert "<strong>details</strong>" in entries[0].find(f"{ATOM}content").text

    care = ET.fromstring(client.get("/topics/care/updates.atom").data)
    assert [e.find(f"{ATOM}title").text for e in care.findall(f"{ATOM}entry")] == ["Care guidance"]
    assert client.get("/topics/board/updates.atom").status_code == 404
