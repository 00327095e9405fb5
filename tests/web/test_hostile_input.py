"""Hostile input: no page answers 5xx, a 4xx changes nothing, and the edge says what it refused.

The property tests find every page of the public, subscriber and staff audiences in the app's
url_map, open it, and fill each field of each form it renders, each query parameter its links
and GET forms use, and each text segment of its address with arbitrary Unicode: NUL, lone
surrogates, controls, bytes that are not UTF-8, and values far over every limit.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, quote_from_bytes, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.routing import AnyConverter, IntegerConverter, Rule
from werkzeug.test import TestResponse

from tests.factories import create_news
from tests.helpers import (
    BASE_URL,
    audit_actions,
    digest_status,
    errors_on,
    form_values,
    page,
    press,
    press_and_confirm,
    row_counts,
    sign_in,
    sign_up,
    signed_in,
)
from updates.extensions import db
from updates.links import confirm_url, manage_token, unsubscribe_token
from updates.models import (
    ApiToken,
    EmbedOrigin,
    SignupRequest,
    StaffUser,
    Subscriber,
    Suppression,
    Topic,
    Update,
    utcnow,
)
from updates.news.cadence import when
from updates.news.embeds import allow_origin
from updates.news.schedules import create_schedule
from updates.staff.accounts import issue_api_token

# -- what the edge refuses, one request at a time --------------------------------------------


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/updates?topic=%00", "query parameter “topic” holds a NUL"),
        ("/updates?topic=%ED%A0%80", "is not valid UTF-8"),  # a lone surrogate, encoded
        ("/updates?topic=%FF", "is not valid UTF-8"),
        ("/updates?topic=a%0Ab", "“topic” must be one line"),
        ("/updates?topic=%1B", "control character (U+001B)"),
        ("/updates.atom?%00=1", "query parameter name holds a NUL"),
    ],
)
def test_a_query_parameter_that_is_not_text_is_a_400_that_names_it(client, topics, path, named):
    response = client.get(path)
    assert response.status_code == 400
    assert named in errors_on(response)


@pytest.mark.parametrize(
    "raw_path",
    [b"/topics/\x00/updates.atom", b"/manage/\xed\xa0\x80", b"/confirm/\xff", b"/updates/\x07"],
)
def test_a_web_address_that_is_not_text_is_a_400(client, topics, raw_path):
    response = client.get("/", environ_overrides={"PATH_INFO": raw_path.decode("latin-1")})
    assert response.status_code == 400
    assert "The web address" in errors_on(response)


def test_a_raw_byte_that_is_not_utf8_in_the_query_is_a_400(client, topics):
    response = client.get("/updates", environ_overrides={"QUERY_STRING": "topic=\xff"})
    assert response.status_code == 400
    assert "is not valid UTF-8" in errors_on(response)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"email=a%00%40example.org&topics=events", "field “email” holds a NUL"),
        (b"email=a%40example.org&topics=events\xff", "is not valid UTF-8"),
        (b"email=a%ED%A0%80%40example.org&topics=events", "is not valid UTF-8"),
        (b"email=a%40example.org%0D%0ABcc%3A+b%40example.org&topics=events", "one line"),
        (b"email=a%40example.org&topics=events&website=%07", "“website” holds a control"),
    ],
)
def test_a_form_field_that_is_not_text_is_a_400_that_stores_nothing(client, topics, body, named):
    token = form_values(page(client.get("/")).find("form", method="post"))["csrf_token"]
    before = row_counts()
    response = client.post(
        "/",
        data=f"csrf_token={token}&".encode() + body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert named in errors_on(response)
    assert row_counts() == before


def test_a_text_area_may_hold_lines_where_a_one_line_field_may_not(app, people):
    editor = signed_in(app, "editor")
    body = "First paragraph.\r\n\r\n\tAn indented line."
    refused = press(editor, "/admin/updates", "Publish", title="A\nB", body=body, topics=["lps"])
    assert refused.status_code == 400
    assert "“title” must be one line" in errors_on(refused)
    published = press(editor, "/admin/updates", "Publish", title="AB", body=body, topics=["lps"])
    assert published.status_code == 303
    assert db.session.scalar(select(Update.body_markdown).where(Update.title == "AB")) == body


def test_a_nul_in_the_sign_in_form_is_a_400_that_names_the_field(app, people):
    response = sign_in(app.test_client(), "admin\x00@example.org")
    assert response.status_code == 400
    assert "field “email” holds a NUL" in errors_on(response)


def test_a_nul_in_a_suppression_reason_is_a_400_that_suppresses_no_one(app, people):
    admin = signed_in(app, "admin")
    response = press(
        admin, "/admin/suppressions", "Suppress", email="x@example.org", reason="spam\x00"
    )
    assert response.status_code == 400
    assert "“reason” holds a NUL" in errors_on(response)
    assert db.session.scalars(select(Suppression.email)).all() == ["old@example.org"]


def test_a_nul_in_the_digest_preview_address_is_a_400(app, people):
    admin = signed_in(app, "admin")
    response = admin.get(f"/admin/digests/{people['digest']}/preview?as=%00")
    assert response.status_code == 400
    assert "“as” holds a NUL" in errors_on(response)


def test_an_upload_with_a_control_character_in_its_name_is_refused(app, people):
    admin = signed_in(app, "admin")
    form = page(admin.get("/admin/import")).find("form", method="post")
    response = admin.post(
        "/admin/import",
        data={
            **form_values(form),
            "topics": ["lps"],
            "consent": "Asked at the summit",
            "file": (io.BytesIO(b"email\nnew@example.org\n"), "list\x1b.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "file “file” holds a control character (U+001B)" in errors_on(response)
    assert "subscribers import started" not in audit_actions()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ('{"slug": "ok", "name": "Bell\\u0007"}', "“name” holds a control character (U+0007)"),
        ('{"slug": "ok", "name": "\\ud800"}', "“name” is not valid Unicode"),
        ('{"slug": "ok", "name": "Two\\nlines"}', "“name” must be one line"),
    ],
)
def test_the_api_refuses_json_text_with_a_json_400(app, people, data, problem):
    token = issue_api_token(db.session.scalar(select(StaffUser).where(StaffUser.role == "admin")))[
        1
    ]
    db.session.commit()
    response = app.test_client().post(
        "/api/topics",
        data=data,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert problem in response.get_json()["error"]
    assert db.session.scalar(select(Topic).where(Topic.slug == "ok")) is None


def test_an_api_description_may_hold_lines(app, people):
    token = issue_api_token(db.session.scalar(select(StaffUser).where(StaffUser.role == "admin")))[
        1
    ]
    db.session.commit()
    response = app.test_client().post(
        "/api/topics",
        json={"slug": "ok", "name": "OK", "description": "One.\nTwo."},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201


def test_a_bad_address_under_the_api_is_answered_in_json(client):
    response = client.get("/api/%00")
    assert response.status_code == 400
    assert "The web address holds a NUL" in response.get_json()["error"]


# -- header values the service writes ------------------------------------------------------------


def test_an_export_of_a_topic_that_does_not_exist_is_a_404_and_exports_nothing(app, people):
    admin = signed_in(app, "admin")
    for query in ["topic=%C3%A9", "topic=%E2%82%AC", "topic=nope", 'topic=a"b']:
        assert admin.get(f"/admin/exports/subscribers.csv?{query}").status_code == 404, query
    assert admin.get("/admin/exports/subscribers.csv?topic=a%0D%0Ab").status_code == 400
    assert "subscribers exported" not in audit_actions()
    response = admin.get("/admin/exports/subscribers.csv?topic=lps")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="subscribers-lps.csv"'


def test_an_international_site_is_listed_in_punycode_and_the_form_still_frames(app, people):
    admin = signed_in(app, "admin")
    response = press(admin, "/admin/embed", "Allow this site", origin="https://Bücher.example")
    assert response.status_code == 303
    assert db.session.scalars(select(EmbedOrigin.origin)).all() == ["https://xn--bcher-kva.example"]
    framed = app.test_client().get("/embed")
    assert framed.status_code == 200
    policy = framed.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://xn--bcher-kva.example" in policy


def test_a_site_listed_before_origins_were_kept_in_ascii_breaks_no_answer(app, people):
    db.session.add_all(
        [EmbedOrigin(origin="https://bücher.example"), EmbedOrigin(origin="https://ü ü")]
    )
    db.session.commit()
    response = app.test_client().get("/embed")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://xn--bcher-kva.example" in policy
    assert "ü" not in policy


@pytest.mark.parametrize("host", ["https://xn--.example", "https://a..b", "https://-a.example"])
def test_a_host_that_is_not_one_is_not_listed(app, people, host):
    admin = signed_in(app, "admin")
    response = press(admin, "/admin/embed", "Allow this site", origin=host)
    assert response.status_code == 400
    assert "not a host name" in errors_on(response)


# -- the feed ------------------------------------------------------------------------------------


def test_the_feed_leaves_out_what_xml_cannot_carry_in_text_stored_before(client, topics):
    create_news("Bell \x07 and \ufffe", ["events"], body="Text \x1b with an escape.")
    response = client.get("/updates.atom")
    assert response.status_code == 200
    assert "<title>Bell  and </title>" in response.get_data(as_text=True)


# -- sending at a time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "problem"),
    [
        ("9999-12-31T23:59-01:00", "YYYY-MM-DDTHH:MM"),  # past the last date Python can hold
        ("0001-01-01T00:00+01:00", "YYYY-MM-DDTHH:MM"),
        ("9999-12-31T23:59", "at most a year ahead"),
        ("2001-01-01T09:00", "has passed"),
        ("tomorrow", "YYYY-MM-DDTHH:MM"),
        ("2030-01-01T09:00" + " " * 40, "longer than 40"),  # fails the form's own rule
    ],
)
def test_a_send_time_that_is_not_usable_is_a_400_that_sends_nothing(app, people, at, problem):
    admin = signed_in(app, "admin")
    response = press(admin, f"/admin/digests/{people['digest']}", "Send", at=at)
    assert response.status_code == 400
    assert "Nothing was sent." in errors_on(response)
    assert problem in errors_on(response)
    assert digest_status(people["digest"]) == "draft"
    assert "digest sending" not in audit_actions()


def test_a_send_time_within_the_year_schedules_the_digest(app, people):
    admin = signed_in(app, "admin")
    at = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    response = press_and_confirm(admin, f"/admin/digests/{people['digest']}", "Send", at=at)
    assert response.status_code == 303
    assert digest_status(people["digest"]) == "scheduled"


# -- every page, every field -----------------------------------------------------------------------

EXAMPLES = 12  # beyond the explicit ones; each is sent to every target, some 80 requests
FUZZ = "FUZZ-SEGMENT"  # stands for a text segment of an address while the address is built


@dataclass(frozen=True)
class Target:
    """Something a person can send: a form, a link's query, or an address with a text segment."""

    method: str
    path: str
    fields: tuple[tuple[str, str], ...] = ()
    multipart: bool = False


# The snippet staff paste into their own site carries this query; no page of ours links to it.
SNIPPET = Target("GET", "/embed", (("topics", "lps"),))


@pytest.fixture
def generous_limits(app_config: dict[str, object]) -> None:
    """Rate limits no run of examples reaches, so that every example reaches its view."""
    for name in ("SIGNUP_LIMIT_PER_IP", "SIGNUP_LIMIT_PER_ADDRESS", "LOGIN_LIMIT_PER_IP"):
        app_config[name] = "100000/minute"


@pytest.fixture
def site(app: Flask, people: dict[str, int]) -> dict[str, object]:
    """A value for each argument of each route: people's ids, a topic, a site, a token, links."""
    reader = db.session.get(Subscriber, people["subscriber"])
    origin = allow_origin("https://www.example.org")
    issue_api_token(db.session.scalar(select(StaffUser).where(StaffUser.role == "editor")))
    db.session.commit()
    sign_up(app.test_client(), "visitor@example.org", ["lps"])
    db.session.expire_all()
    signup_request = db.session.scalar(select(SignupRequest))
    return {
        **people,
        "topic_id": db.session.scalar(select(Topic.id).where(Topic.slug == "lps")),
        "staff_id": db.session.scalar(select(StaffUser.id).where(StaffUser.role == "editor")),
        "suppression_id": people["suppression"],
        "subscriber_id": people["subscriber"],
        "digest_id": people["digest"],
        "schedule_id": create_schedule("Daily", ["lps"], when("daily", "09:00", "UTC")).id,
        "origin_id": origin.id,
        "token_id": db.session.scalar(select(ApiToken.id)),
        "update_id": db.session.scalar(select(Update.id)),
        "import_id": "0" * 32,
        "slug": "lps",
        "tokens": {
            "public.confirm": urlsplit(confirm_url(signup_request)).path.rsplit("/", 1)[1],
            "preferences.unsubscribe": unsubscribe_token(
                reader, [reader.subscriptions[0].topic_id]
            ),
        },
        "manage": manage_token(reader),
    }


def _argument(rule: Rule, name: str, site: dict[str, object]) -> object:
    converter = rule._converters[name]
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, IntegerConverter):
        return site[name]
    if name == "token":
        return site["tokens"].get(rule.endpoint, site["manage"])
    return site[name]


def rules_of(app: Flask, blueprints: set[str]) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in blueprints]


def address_of(rule: Rule, site: dict[str, object], fuzz: str | None = None) -> str:
    """The rule's address with every argument filled in; `fuzz` names one to leave open."""
    values = {
        name: FUZZ if name == fuzz else _argument(rule, name, site) for name in rule._converters
    }
    return rule.build(values, append_unknown=False)[1]


def forms_on(html, here: str) -> list[Target]:
    """Each form on the page, with what a browser would send from it as it stands."""
    found = []
    for form in html.find_all("form"):
        fields = list(form_values(form).items())
        fields += [  # unticked boxes too: each is a field a client may send
            (box["name"], box.get("value", "on"))
            for box in form.find_all("input", type="checkbox")
            if box.get("name") and not box.has_attr("checked")
        ]
        fields += [(t["name"], t.get_text()) for t in form.find_all("textarea") if t.get("name")]
        for select_box in form.find_all("select"):
            chosen = select_box.find("option", selected=True) or select_box.find("option")
            if select_box.get("name"):
                fields.append((select_box["name"], chosen.get("value", "") if chosen else ""))
        flat = tuple(
            (name, item)
            for name, value in fields
            for item in (value if isinstance(value, list) else [value])
        )
        method = form.get("method", "get").upper()
        action = form.get("action") or here
        if method == "GET":
            action = urlsplit(action).path
        multipart = form.get("enctype") == "multipart/form-data"
        found.append(Target(method, action, flat, multipart))
    return found


def links_on(html) -> list[Target]:
    """Each link or frame to one of our pages with a query, as a GET of its parameters."""
    addresses = [a["href"] for a in html.find_all("a", href=True)]
    addresses += [frame["src"] for frame in html.find_all("iframe", src=True)]
    return [target for address in addresses if (target := query_of(address))]


def query_of(address: str) -> Target | None:
    """A GET of the address's query parameters, if it is one of our pages and has a query."""
    parts = urlsplit(address)
    ours = not parts.netloc or f"{parts.scheme}://{parts.netloc}" == BASE_URL
    if parts.query and ours and parts.path.startswith("/"):
        return Target("GET", parts.path, tuple(parse_qsl(parts.query)))
    return None


def targets(
    app: Flask, client: FlaskClient, blueprints: set[str], site: dict[str, object]
) -> list[Target]:
    """Every page of these blueprints the client may open, its forms and links; every POST
    route no form reaches, with the session's CSRF token; every address with a text segment."""
    found: list[Target] = []
    csrf = ""
    rules = rules_of(app, blueprints)
    for rule in rules:
        if "GET" not in rule.methods:
            continue
        path = address_of(rule, site)
        response = client.get(path)
        response.get_data()
        response.close()  # a streamed export holds its request open until then
        found.append(Target("GET", path))
        found += [Target("GET", address_of(rule, site, name)) for name in _text_segments(rule)]
        if redirect := query_of(response.headers.get("Location", "")):
            found.append(redirect)  # the sign-in page's `next`
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = page(response)
        found += forms_on(html, path) + links_on(html)
        token = html.find("input", attrs={"name": "csrf_token"})
        csrf = csrf or (token.get("value", "") if token else "")
    adapter = app.url_map.bind("localhost")
    reached = {
        adapter.match(urlsplit(t.path).path, method="POST")[0] for t in found if t.method == "POST"
    }
    for rule in rules:
        if "POST" not in rule.methods:
            continue
        if rule.endpoint not in reached:
            found.append(Target("POST", address_of(rule, site), (("csrf_token", csrf),)))
        found += [
            Target("POST", address_of(rule, site, name), (("csrf_token", csrf),))
            for name in _text_segments(rule)
        ]
    distinct = {(t.method, t.path, tuple(sorted({n for n, _ in t.fields}))): t for t in found}
    # Signing out would end the session the other examples need.
    return [t for t in distinct.values() if urlsplit(t.path).path != "/admin/logout"]


def _text_segments(rule: Rule) -> list[str]:
    """The arguments of a rule that take any text: tokens, slugs, import ids."""
    return [
        name
        for name, converter in rule._converters.items()
        if not isinstance(converter, IntegerConverter | AnyConverter)
    ]


hostile = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates and controls too
    st.sampled_from(["\x00", "\ud800", "\r\n", "\x1b[2J", "\u202e", "\ufffe", "%00", "'\"<&>"]),
    st.binary(max_size=12),  # bytes that need not be UTF-8
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.integers(min_value=1_000, max_value=300_000).map(lambda n: "9" * n),
)


def _raw(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


# What even a careless client escapes; it sends every other byte as it is, as curl may.
SEPARATORS = re.compile(rb"[%&=#+ ]")


def _escaped(value: str | bytes, unescaped: bool) -> bytes:
    if unescaped:
        return SEPARATORS.sub(lambda found: b"%%%02X" % found.group()[0], _raw(value))
    return quote_from_bytes(_raw(value)).encode()


def _query(fields: list[tuple[str | bytes, str | bytes]], unescaped: bool) -> bytes:
    return b"&".join(
        _escaped(name, unescaped) + b"=" + _escaped(value, unescaped) for name, value in fields
    )


def _multipart(fields: list[tuple[str | bytes, str | bytes]]) -> tuple[bytes, str]:
    boundary = b"hostile-boundary-7f3a"
    parts = []
    for name, value in fields:
        if name == "file":
            head = b'Content-Disposition: form-data; name="file"; filename="list.csv"\r\n'
            head += b"Content-Type: text/csv\r\n"
            value = b"email\nnew@example.org\n"
        else:
            head = b'Content-Disposition: form-data; name="' + _raw(name) + b'"\r\n'
        parts.append(b"--" + boundary + b"\r\n" + head + b"\r\n" + _raw(value) + b"\r\n")
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary.decode()}"


@dataclass
class Hostile:
    """A request as a hostile client sends it, byte for byte: the test client encodes nothing."""

    target: Target
    method: str
    fields: list[tuple[str | bytes, str | bytes]]
    segment: str | bytes = ""  # in place of FUZZ in the address
    unescaped: bool = False

    def send(self, client: FlaskClient) -> TestResponse:
        address, _, query = self.target.path.partition("?")
        head, _, tail = address.partition(FUZZ)
        path = _raw(head) + (_raw(self.segment) + _raw(tail) if FUZZ in address else b"")
        environ = {"PATH_INFO": path.decode("latin-1"), "QUERY_STRING": query}
        if self.method in ("GET", "HEAD"):
            environ["QUERY_STRING"] = _query(self.fields, self.unescaped).decode("latin-1")
            return client.open("/", method=self.method, environ_overrides=environ)
        if self.target.multipart:
            body, content_type = _multipart(self.fields)
        else:
            body = _query(self.fields, self.unescaped)
            content_type = "application/x-www-form-urlencoded"
        return client.post("/", data=body, content_type=content_type, environ_overrides=environ)


# A refused sign-in is counted, by design, so that guessing slows down.
COUNTED_WHEN_REFUSED = {"staff_login_backoffs"}


def state() -> dict[str, list[str]]:
    """Every row of every table, as text."""
    with db.engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
            for table in db.metadata.sorted_tables
            if table.name not in COUNTED_WHEN_REFUSED
        }


def hostile_requests(
    found: list[Target], values: list[str | bytes], unescaped: bool
) -> Iterator[Hostile]:
    """For each target, every field but the CSRF token (so that the view is reached) given one
    of the values in turn, one more field named by a value, and a value for a text segment."""
    for n, target in enumerate(found):
        turn = iter(values[(n + k) % len(values)] for k in range(10_000))
        fields = [
            (name, value if name == "csrf_token" else next(turn)) for name, value in target.fields
        ]
        fields.append((next(turn), next(turn)))
        yield Hostile(target, target.method, fields, next(turn), unescaped)


def check_every_target(
    client: FlaskClient, found: list[Target], values: list[str | bytes], unescaped: bool
) -> None:
    """Send the values to every target: none may answer 5xx, and a 4xx must change nothing."""
    for request in hostile_requests(found, values, unescaped):
        before = state()
        response = request.send(client)
        body = response.get_data(as_text=True)
        response.close()
        assert response.status_code < 500, (request, body[:500])
        if 400 <= response.status_code < 500:
            assert state() == before, (request, response.status_code)


def hostile_values(test):
    """Each kind of hostile text, sent everywhere on every run; then hypothesis's own."""
    kinds = [
        (["\x00"], False),
        (["\ud800", "x\udfff"], False),  # lone surrogates, as their UTF-8-like bytes
        ([b"\xff\xfe", b"\xc3"], True),  # not UTF-8, sent unescaped
        (["\x07", "\x1b[31m", "\x7f", "\x85"], False),
        (["a\r\nb", "\t"], True),
        (["\ufffe\uffff"], False),  # not characters, nor allowed in XML
        (["9" * 300_000], False),  # over every limit
        (["é€😀", "'\"<&>", "=1+2", "../.."], True),
    ]
    for values, unescaped in kinds:
        test = example(values=values, unescaped=unescaped)(test)
    return test


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
VALUES = st.lists(hostile, min_size=1, max_size=4)


def _found(site: dict[str, object], audience: str, build) -> list[Target]:
    """The audience's targets, found once for all the examples of a test."""
    cache = site.setdefault("targets", {})
    if audience not in cache:
        cache[audience] = build()
    return cache[audience]


@pytest.mark.slow
@FUZZ_SETTINGS
@hostile_values
@given(values=VALUES, unescaped=st.booleans())
def test_no_public_or_subscriber_page_answers_5xx_and_a_4xx_changes_nothing(
    generous_limits, app, site, values, unescaped
):
    visitor = app.test_client()
    audiences = {"public", "preferences", "console"}  # the console's sign-in pages too
    found = _found(site, "visitor", lambda: [*targets(app, visitor, audiences, site), SNIPPET])
    check_every_target(visitor, found, values, unescaped)


@pytest.mark.slow
@FUZZ_SETTINGS
@hostile_values
@given(values=VALUES, unescaped=st.booleans())
def test_no_console_page_answers_5xx_and_a_4xx_changes_nothing(
    generous_limits, app, site, values, unescaped
):
    if "admin" not in site:
        site["admin"] = signed_in(app, "admin")
    client = site["admin"]
    found = _found(site, "console", lambda: targets(app, client, {"console"}, site))
    check_every_target(client, found, values, unescaped)


def test_head_answers_wherever_get_does(app, site):
    admin = signed_in(app, "admin")
    for rule in rules_of(app, {"public", "preferences", "console"}):
        if "GET" in rule.methods:
            path = address_of(rule, site)
            got = admin.get(path)
            got.close()  # a streamed export holds its request open until then
            head = admin.head(path)
            assert head.status_code == got.status_code, path
            assert head.headers.get("Content-Type") == got.headers.get("Content-Type"), path
            assert head.get_data() == b"", path
    assert app.test_client().head("/").status_code == 200
