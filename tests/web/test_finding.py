"""Finding anything: every long list in the console and the public archive, paged and filtered."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import errors_on, form_values, form_with_button, page, press, signed_in
from updates.addresses import address_hash
from updates.extensions import db
from updates.models import AuditEvent, Digest, Suppression, Update
from updates.news.corrections import withdraw_update
from updates.news.digests import cancel
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
    assert len(details(admin.get("/admin/audit?since=0001-01-01&until=9999-12-31"))) == PER_PAGE


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


# -- updates and digests in the console ------------------------------------------------------------


@pytest.fixture
def news(people) -> list[Update]:
    """More updates than a page holds, oldest first, alternately for care and lps (the fixture's
    "Budgets", for lps, is the oldest); the second is withdrawn."""
    made = [create_news(f"Note {n:03}", ["lps" if n % 2 else "care"]) for n in range(PER_PAGE + 3)]
    withdraw_update(made[1])
    return made


def titles(response) -> list[str]:
    """The titles in the list of updates, without what the cell says of a correction."""
    return [title.split(" (")[0] for title in rows(response, "#published tbody td:first-child")]


def test_the_updates_list_pages_newest_first_and_filters_by_title_topic_and_state(app, news):
    editor = signed_in(app, "editor")
    newest = [u.title for u in reversed(news)] + ["Budgets"]
    first = editor.get("/admin/updates")
    assert titles(first) == newest[:PER_PAGE]
    assert titles(editor.get(next_link(first))) == newest[PER_PAGE:]

    lps = editor.get("/admin/updates?topic=lps&state=published&q=note")
    expected = [u.title for n, u in enumerate(news) if n % 2 and n != 1][::-1]
    assert titles(lps) == expected
    assert f"{len(expected)} updates match" in page(lps).get_text()
    assert titles(editor.get("/admin/updates?state=withdrawn")) == ["Note 001"]
    assert titles(editor.get("/admin/updates?q=note+05")) == ["Note 052", "Note 051", "Note 050"]
    assert titles(editor.get("/admin/updates?q=nothing+like+it")) == ["No update matches."]
    many = editor.get("/admin/updates?q=NOTE")
    assert query_of(next_link(many)) == {"q": ["NOTE"], "page": ["2"]}
    for query in [*HOSTILE, "state=draft", "topic=nope", f"topic={'x' * 5000}"]:
        response = editor.get(f"/admin/updates?{query}")
        assert response.status_code == 400, query
        assert errors_on(response), query


@pytest.fixture
def composed(news) -> list[int]:
    """More digests than a page holds, oldest first, beside the fixture's draft to lps: care
    round-ups, then lps briefs, the last of them cancelled."""
    made = [
        create_test_digest([news[0]], ["care"], subject=f"Care round-up {n}").id
        for n in range(PER_PAGE - 2)
    ]
    made += [
        create_test_digest([news[3]], ["lps"], subject=f"Budget brief {n}").id for n in range(5)
    ]
    cancel(db.session.get(Digest, made[-1]))
    return made


def subjects(response) -> list[str]:
    return rows(response, "tbody td:first-child")


def test_the_digests_list_pages_newest_first_and_filters_by_subject_topic_and_status(app, composed):
    editor = signed_in(app, "editor")
    every = [db.session.get(Digest, i).subject for i in reversed(composed)] + ["Programme news"]
    first = editor.get("/admin/digests")
    assert subjects(first) == every[:PER_PAGE]
    assert subjects(editor.get(next_link(first))) == every[PER_PAGE:]
    assert subjects(editor.get("/admin/digests?q=BRIEF&status=draft")) == [
        f"Budget brief {n}" for n in (3, 2, 1, 0)
    ]
    assert subjects(editor.get("/admin/digests?status=cancelled")) == ["Budget brief 4"]
    lps = editor.get("/admin/digests?topic=lps")
    assert len(subjects(lps)) == 6 and "6 digests match" in page(lps).get_text()
    older = editor.get("/admin/digests?q=e")
    assert query_of(next_link(older)) == {"q": ["e"], "page": ["2"]}
    for query in [*HOSTILE, "status=lost", "topic=nope"]:
        response = editor.get(f"/admin/digests?{query}")
        assert response.status_code == 400, query
        assert errors_on(response), query


# -- the composer ----------------------------------------------------------------------------------


def offered(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [label.get_text() for label in page(response).select("#update-choices li label")]


def test_the_composer_finds_an_update_older_than_those_it_offers_and_a_digest_carries_it(app, news):
    editor = signed_in(app, "editor")
    assert "Note 000" not in offered(editor.get("/admin/digests"))
    found = press(
        editor,
        "/admin/digests",
        "Find updates",
        action="find",  # the button's own name and value, as a browser sends them
        subject="Looking back",
        kind="digest",
        topics=["care", "lps"],
        find="note 000",
        updates=[],  # those offered come ticked; this digest is only for the old one
    )
    assert offered(found) == ["Note 000"]
    compose = form_with_button(page(found), "Save draft")
    values = {**form_values(compose), "kind": "digest"}
    assert values["subject"] == "Looking back" and values["find"] == "note 000"
    values["updates"] = [compose.find("label", string="Note 000")["for"].split("-")[-1]]
    created = editor.post("/admin/digests", data=values)
    assert created.status_code == 303, errors_on(created)
    digest = db.session.get(Digest, int(created.headers["Location"].rsplit("/", 1)[-1]))
    assert [item.update_id for item in digest.items] == [news[0].id]

    # The draft's own update stays on offer, ticked, though it is older than those offered.
    edit = f"/admin/digests/{digest.id}/edit"
    shown = page(editor.get(edit))
    assert shown.find("label", string="Note 000").find_previous("input").has_attr("checked")
    assert (
        press(editor, edit, "Save draft", subject="Looking back again", kind="digest").status_code
        == 303
    )
    db.session.expire_all()
    assert [item.update_id for item in digest.items] == [news[0].id]
    again = press(editor, edit, "Find updates", action="find", find="note 05")
    assert offered(again) == ["Note 000", "Note 052", "Note 051", "Note 050"]  # its own first


def test_hostile_composer_values_are_refused_and_save_nothing(app, news):
    editor = signed_in(app, "editor")
    before = db.session.scalar(select(func.count()).select_from(Digest))
    tries = [
        ("Find updates", {"action": "find", "find": "x" * 5000}),
        ("Save draft", {"subject": "S", "topics": ["lps"], "updates": ["abc"]}),
        ("Save draft", {"subject": "S", "topics": ["lps"], "updates": [str(2**40)]}),
        ("Save draft", {"subject": "S", "topics": ["lps"], "updates": ["-3"]}),
        ("Save draft", {"subject": "S", "topics": ["lps"], "updates": [str(news[1].id)]}),
    ]
    for label, changes in tries:
        response = press(editor, "/admin/digests", label, kind="digest", **changes)
        assert response.status_code == 400, (label, changes)
        assert errors_on(response), (label, changes)
    assert db.session.scalar(select(func.count()).select_from(Digest)) == before


# -- the suppression list --------------------------------------------------------------------------


def test_the_suppression_list_pages_newest_first_and_finds_an_address_even_erased(app, people):
    db.session.add_all(
        Suppression(email_hash=f"{n + 1:064}", email=f"gone{n:03}@example.org", reason="bounce")
        for n in range(PER_PAGE + 2)
    )
    db.session.add(
        Suppression(email_hash=address_hash("Erased@Example.org"), email=None, reason="erased")
    )
    db.session.commit()
    admin = signed_in(app, "admin")
    cells = "tbody td:first-child"
    newest = ["(erased; kept as a hash)"] + [f"gone{n:03}@example.org" for n in range(51, -1, -1)]
    first = admin.get("/admin/suppressions")
    assert rows(first, cells) == newest[:PER_PAGE]
    assert rows(admin.get(next_link(first)), cells) == [*newest[PER_PAGE:], "old@example.org"]
    assert rows(admin.get("/admin/suppressions?q=GONE05"), cells) == [
        "gone051@example.org",
        "gone050@example.org",
    ]
    assert rows(admin.get("/admin/suppressions?q=erased@example.org"), cells) == [newest[0]]
    assert "No addresses match." in page(admin.get("/admin/suppressions?q=nobody")).get_text()
    searched = admin.get("/admin/suppressions?q=example")
    assert query_of(next_link(searched)) == {"q": ["example"], "page": ["2"]}
    for query in HOSTILE:
        response = admin.get(f"/admin/suppressions?{query}")
        assert response.status_code == 400, query
        assert errors_on(response), query
