"""The staff JSON API: bearer tokens, topics, updates, digests, subscribers, its description."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import (
    BASE_URL,
    digest_status,
    links_in,
    page,
    path_of,
    sign_up,
    submit_only_form,
)
from updates.extensions import db
from updates.models import ApiToken, Digest, StaffUser, Topic, Update, utcnow

PASSWORD = "a password long enough"
# Every call in the contract, with a body that would succeed given the
# `update_and_draft_digest` fixture.
CALLS = [
    ("GET", "/api/topics", None),
    ("POST", "/api/topics", {"slug": "board", "name": "Board papers"}),
    ("POST", "/api/updates", {"title": "News", "body": "Text", "topics": ["lps"]}),
    ("POST", "/api/digests", {"subject": "S", "updates": [], "topics": ["lps"]}),
    ("POST", "/api/digests/{digest}/send", {}),
    ("GET", "/api/digests/{digest}", None),
    ("POST", "/api/digests/{digest}/pause", None),
    ("POST", "/api/digests/{digest}/resume", None),
    ("POST", "/api/digests/{digest}/cancel", None),
    ("GET", "/api/subscribers?email=ada@example.org", None),
    ("GET", "/api/schedules", None),
    (
        "POST",
        "/api/schedules",
        {"name": "W", "topics": ["lps"], "cadence": "daily", "time": "09:00", "timezone": "UTC"},
    ),
    ("GET", "/api/schedules/{digest}", None),
    ("PATCH", "/api/schedules/{digest}", {"active": False}),
    ("DELETE", "/api/schedules/{digest}", None),
    ("POST", "/api/schedules/{digest}/run", None),
    ("PATCH", "/api/updates/{update}", {"title": "Council budgets, corrected"}),
    ("DELETE", "/api/updates/{update}", None),
    ("POST", "/api/updates/{update}/event/cancel", None),
    ("PATCH", "/api/digests/{digest}", {"subject": "March news"}),
    ("DELETE", "/api/digests/{digest}", None),
]
CONTRACT_PATHS = {
    "/api/topics",
    "/api/updates",
    "/api/digests",
    "/api/digests/{id}/send",
    "/api/digests/{id}",
    "/api/digests/{id}/pause",
    "/api/digests/{id}/resume",
    "/api/digests/{id}/cancel",
    "/api/subscribers",
    "/api/schedules",
    "/api/schedules/{id}",
    "/api/schedules/{id}/run",
    "/api/updates/{id}",
    "/api/updates/{id}/event/cancel",
}


def new_token(app: Flask, email: str = "editor@example.org", role: str = "editor") -> str:
    """A staff account and a token for it, made with the operator's own commands."""
    runner = app.test_cli_runner()
    added = runner.invoke(
        args=["staff", "add", email, "--role", role], env={"UPDATES_PASSWORD": PASSWORD}
    )
    assert added.exit_code == 0, added.output
    created = runner.invoke(args=["api-token", "create", email])
    assert created.exit_code == 0, created.output
    [token] = created.stdout.splitlines()
    return token


class Api:
    """The test client, speaking JSON with a bearer token."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> TestResponse:
        return self.client.get(path, headers=self.headers)

    def post(self, path: str, body: Any = None, **options: Any) -> TestResponse:
        if body is not None:
            options["json"] = body
        return self.client.post(path, headers=self.headers, **options)


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    """An admin's token: adding topics is for admins (test_api_roles.py checks every role)."""
    return Api(client, new_token(app, "admin@example.org", "admin"))


@pytest.fixture
def update_and_draft_digest(app) -> dict[str, Any]:
    """Topics lps and care, a reader of lps, an update in lps, and a draft digest of it."""
    create_topics("lps", "care")
    create_subscriber("reader@example.org", ["lps"])
    update = create_news("Council budgets", ["lps"])
    return {"update": update, "digest": create_test_digest([update], ["lps"])}


def state() -> dict[str, Any]:
    """Everything a call could change."""
    db.session.expire_all()
    counts = {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Topic, Update, Digest)
    }
    statuses = db.session.execute(select(Digest.id, Digest.status, Digest.scheduled_at)).all()
    return {**counts, "digests": sorted(statuses)}


def assert_error(response: TestResponse, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    message = response.get_json()["error"]
    assert isinstance(message, str) and message
    for fragment in fragments:
        assert fragment in message


# --- authentication


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer not-a-token", "Basic ZWRpdG9yOnBhc3N3b3Jk", "{token}x"],
)
def test_every_call_without_a_valid_token_answers_401_and_changes_nothing(
    app, client, update_and_draft_digest, authorization
):
    token = new_token(app)
    create_subscriber("ada@example.org", ["lps"])
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=f"Bearer {token}")
    before = state()
    for method, path, body in CALLS:
        url = path.format(
            digest=update_and_draft_digest["digest"].id, update=update_and_draft_digest["update"].id
        )
        response = client.open(url, method=method, json=body, headers=headers)
        assert_error(response, 401, "Authorization: Bearer TOKEN")
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert state() == before


def test_a_revoked_token_or_a_deactivated_account_is_refused(app, client, update_and_draft_digest):
    api = Api(client, new_token(app))
    assert api.get("/api/topics").status_code == 200
    db.session.scalars(select(ApiToken)).one().revoked_at = utcnow()
    db.session.commit()
    assert_error(api.get("/api/topics"), 401)

    api = Api(client, new_token(app, "admin@example.org", "admin"))
    assert api.get("/api/topics").status_code == 200
    db.session.scalars(select(StaffUser).where(StaffUser.role == "admin")).one().active = False
    db.session.commit()
    assert_error(api.post("/api/topics", {"slug": "x", "name": "X"}), 401)
    assert db.session.scalar(select(func.count()).select_from(Topic)) == 2


def test_every_api_route_but_the_description_needs_a_token(app, client):
    """A new call added without @token_required fails here."""
    routes = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    covered = {f"api.{name}" for name in ("openapi_document",)}
    for method, path, _body in CALLS:
        url = path.format(digest=1, update=1)
        adapter = app.url_map.bind("localhost")
        endpoint, _values = adapter.match(url.split("?")[0], method=method)
        covered.add(endpoint)
    assert {rule.endpoint for rule in routes} == covered


# --- the happy path


def test_staff_make_topics_updates_and_a_digest_then_send_it(api, client, mail_server):
    created = api.post(
        "/api/topics",
        {"slug": "lps", "name": "Local Public Services", "description": "Councils."},
    )
    assert created.status_code == 201
    assert created.get_json() == {
        "slug": "lps",
        "name": "Local Public Services",
        "description": "Councils.",
        "public": True,
        "subscribers": 0,
    }
    hidden = api.post("/api/topics", {"slug": "board", "name": "Board", "public": False})
    assert hidden.status_code == 201 and hidden.get_json()["public"] is False
    create_subscriber("ada@example.org", ["lps", "board"])
    create_subscriber("bob@example.org", ["lps"])
    create_subscriber("cy@example.org", ["lps"], status="unsubscribed")

    listed = api.get("/api/topics")
    assert listed.status_code == 200
    assert [(t["slug"], t["public"], t["subscribers"]) for t in listed.get_json()] == [
        ("lps", True, 2),
        ("board", False, 1),
    ]

    news = api.post(
        "/api/updates",
        {"title": "Budgets <2025>", "body": "**Up** <script>x()</script>", "topics": ["lps"]},
    )
    assert news.status_code == 201
    update = news.get_json()
    assert update == {"id": update["id"], "url": update["url"], "announcement": None}
    assert update["url"] == f"{BASE_URL}/updates/{update['id']}"
    assert news.headers["Location"] == update["url"]

    public = client.get(path_of(update["url"]))
    assert public.status_code == 200
    shown = page(public)
    assert shown.h1.get_text() == "Budgets <2025>"
    assert shown.find("strong").get_text() == "Up"
    scripts = [s.get("src", "inline") for s in shown.find_all("script")]
    assert all(src.startswith("/static/") for src in scripts)  # the body's <script> is gone
    assert "x()" not in str(shown)
    assert "Local Public Services" in shown.get_text()
    assert shown.find("time")["datetime"] == utcnow().strftime("%Y-%m-%d")

    made = api.post(
        "/api/digests",
        {"subject": "March news", "intro": "Hello", "updates": [update["id"]], "topics": ["lps"]},
    )
    assert made.status_code == 201
    digest_id = made.get_json()["id"]
    assert made.get_json() == {"id": digest_id}
    assert db.session.get(Digest, digest_id).kind == "digest"

    draft = api.get(f"/api/digests/{digest_id}")
    assert draft.status_code == 200
    assert draft.get_json() == {
        "id": digest_id,
        "status": "draft",
        "recipients": 0,
        "sent": 0,
        "failed": 0,
        "already_sent": 0,
    }

    sent = api.post(f"/api/digests/{digest_id}/send")
    assert sent.status_code == 202
    assert sent.get_json() == {"id": digest_id, "status": "scheduled"}
    assert api.get(f"/api/digests/{digest_id}").get_json()["status"] in (
        "scheduled",
        "sending",
        "sent",
    )


def test_an_announcement_is_made_when_asked_for(api, update_and_draft_digest):
    made = api.post(
        "/api/digests",
        {
            "subject": "Now",
            "updates": [update_and_draft_digest["update"].id],
            "topics": ["lps"],
            "kind": "announcement",
        },
    )
    assert made.status_code == 201
    assert db.session.get(Digest, made.get_json()["id"]).kind == "announcement"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"at": "2030-01-31T10:00:00+01:00"}, datetime(2030, 1, 31, 9, 0)),
        ({"at": "2030-01-31T10:00:00Z"}, datetime(2030, 1, 31, 10, 0)),
        ({"at": "2030-01-31T10:00:00"}, datetime(2030, 1, 31, 10, 0)),  # naive means UTC
    ],
)
def test_send_at_a_time_schedules_the_digest_for_that_moment_in_utc(
    api, update_and_draft_digest, body, expected
):
    digest_id = update_and_draft_digest["digest"].id
    response = api.post(f"/api/digests/{digest_id}/send", body)
    assert response.status_code == 202
    db.session.expire_all()
    digest = db.session.get(Digest, digest_id)
    assert (digest.status, digest.scheduled_at) == ("scheduled", expected)


@pytest.mark.parametrize(
    "body",
    [
        {"at": "next tuesday"},
        {"at": 1893456000},
        {"at": "0001-01-01T00:00:00+01:00"},
        ["at"],
        "2030-01-31T10:00:00Z",
    ],
)
def test_send_with_a_bad_time_is_refused_and_schedules_nothing(api, update_and_draft_digest, body):
    before = state()
    assert_error(api.post(f"/api/digests/{update_and_draft_digest['digest'].id}/send", body), 400)
    assert state() == before


def test_pause_resume_and_cancel_follow_the_digest_rules(api, update_and_draft_digest):
    digest_id = update_and_draft_digest["digest"].id
    action = lambda name: api.post(f"/api/digests/{digest_id}/{name}")  # noqa: E731

    assert_error(action("pause"), 409, "a draft digest cannot be paused")
    assert_error(action("resume"), 409, "a draft digest cannot be resumed")
    assert digest_status(digest_id) == "draft"

    scheduled = api.post(f"/api/digests/{digest_id}/send", {"at": "2030-01-31T09:00:00Z"})
    assert scheduled.status_code == 202
    assert digest_status(digest_id) == "scheduled"
    paused = action("pause")
    assert paused.status_code == 202
    assert paused.get_json() == {"id": digest_id, "status": "paused"}
    assert_error(api.post(f"/api/digests/{digest_id}/send"), 409, "cannot be sent")
    assert action("resume").get_json() == {"id": digest_id, "status": "scheduled"}
    assert_error(action("resume"), 409, "a scheduled digest cannot be resumed")

    cancelled = action("cancel")
    assert cancelled.status_code == 202
    assert cancelled.get_json() == {"id": digest_id, "status": "cancelled"}
    for name in ("pause", "resume", "cancel"):
        assert_error(action(name), 409, "a cancelled digest cannot be")
    assert_error(api.post(f"/api/digests/{digest_id}/send"), 409)
    assert api.get(f"/api/digests/{digest_id}").get_json()["status"] == "cancelled"


def test_a_draft_can_be_cancelled(api, update_and_draft_digest):
    digest_id = update_and_draft_digest["digest"].id
    assert api.post(f"/api/digests/{digest_id}/cancel").status_code == 202
    assert digest_status(digest_id) == "cancelled"


# --- subscribers


def test_a_subscriber_is_found_by_address_in_any_case_with_the_topics_followed(
    api, client, run_jobs, mail_server
):
    create_topics("lps", "care", "events")
    sign_up(client, "Ada@example.org", ["events", "lps"])
    sign_up(client, "pending@example.org", ["care"])
    run_jobs()
    [confirm] = mail_server.messages_to("Ada@example.org")
    submit_only_form(client, next(link for link in links_in(confirm) if "/confirm/" in link))

    found = api.get("/api/subscribers?email=ADA@EXAMPLE.ORG")
    assert found.status_code == 200
    assert found.get_json() == {
        "email": "Ada@example.org",
        "status": "active",
        "topics": ["lps", "events"],
    }
    pending = api.get("/api/subscribers?email=pending%40example.org").get_json()
    assert pending == {"email": "pending@example.org", "status": "pending", "topics": []}

    assert_error(api.get("/api/subscribers?email=nobody@example.org"), 404)
    assert_error(api.get("/api/subscribers"), 400, "email")
    assert_error(api.get("/api/subscribers?email="), 400)
    assert_error(api.get("/api/subscribers?email=not-an-address"), 400)
    assert_error(api.get("/api/subscribers?email=a%00@example.org"), 400)


def test_a_subscriber_who_left_keeps_their_status(api, update_and_draft_digest):
    create_subscriber("gone@example.org", [], status="unsubscribed")
    gone = api.get("/api/subscribers?email=gone@example.org").get_json()
    assert gone == {"email": "gone@example.org", "status": "unsubscribed", "topics": []}


# --- bad requests


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/api/topics", {"name": "No slug"}, "slug is required"),
        ("/api/topics", {"slug": "Bad Slug", "name": "Bad"}, "lower-case"),
        ("/api/topics", {"slug": "ok", "name": ""}, "name"),
        ("/api/topics", {"slug": "ok", "name": 7}, "name must be a string"),
        ("/api/topics", {"slug": "ok", "name": "Ok", "public": "yes"}, "public must be true"),
        ("/api/topics", {"slug": "ok", "name": "Ok", "description": "x" * 2001}, "description"),
        ("/api/topics", {"slug": ["ok"], "name": "Ok"}, "slug must be a string"),
        ("/api/updates", {"body": "Text", "topics": ["lps"]}, "title is required"),
        ("/api/updates", {"title": "T", "body": "Text", "topics": ["nope"]}, "unknown topic"),
        ("/api/updates", {"title": "T", "body": "Text", "topics": "lps"}, "topics must be a"),
        ("/api/updates", {"title": "T", "body": "Text", "topics": [1]}, "topics"),
        ("/api/updates", {"title": "T", "body": "Text", "topics": []}, "at least one topic"),
        ("/api/updates", {"title": "x" * 301, "body": "Text", "topics": ["lps"]}, "title is lo"),
        ("/api/updates", {"title": "  ", "body": "Text", "topics": ["lps"]}, "title"),
        ("/api/digests", {"subject": "S", "updates": [999], "topics": ["lps"]}, "999"),
        ("/api/digests", {"subject": "S", "updates": ["1"], "topics": ["lps"]}, "updates"),
        ("/api/digests", {"subject": "S", "updates": [True], "topics": ["lps"]}, "updates"),
        ("/api/digests", {"subject": "S", "updates": [2**70], "topics": ["lps"]}, "updates"),
        ("/api/digests", {"subject": "S", "updates": [], "topics": ["nope"]}, "unknown topic"),
        ("/api/digests", {"subject": "A\nB", "updates": [], "topics": ["lps"]}, "one line"),
        ("/api/digests", {"subject": "S", "updates": [], "topics": ["lps"], "kind": "x"}, "kind"),
        ("/api/digests", {"updates": [], "topics": ["lps"]}, "subject is required"),
        ("/api/digests", {"subject": "S", "intro": 5, "updates": [], "topics": ["lps"]}, "intro"),
    ],
)
def test_a_bad_body_is_refused_with_a_json_400_and_changes_nothing(
    api, update_and_draft_digest, path, body, fragment
):
    before = state()
    assert_error(api.post(path, body), 400, fragment)
    assert state() == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("", "application/json"),
        ("[1, 2]", "application/json"),
        ("null", "application/json"),
        ('"text"', "application/json"),
        ("slug=x&name=y", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
        ("[" * 30_000 + "]" * 30_000, "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(
    api, update_and_draft_digest, data, content_type
):
    before = state()
    response = api.post("/api/topics", data=data, content_type=content_type)
    assert_error(response, 400, "JSON object")
    assert state() == before


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/api/updates", '{"title": "T\\u0000", "body": "Text", "topics": ["lps"]}'),
        ("/api/updates", '{"title": "T", "body": "Text", "topics": ["\\u0000"]}'),
        ("/api/topics", '{"slug": "\\u0000", "name": "N"}'),
        ("/api/topics", '{"slug": "ok", "name": "\\ud800"}'),
        ("/api/digests", '{"subject": "S", "updates": [], "topics": ["lps"], "\\udfff": 1}'),
    ],
)
def test_text_no_database_can_store_is_refused(api, update_and_draft_digest, path, data):
    before = state()
    assert_error(api.post(path, data=data, content_type="application/json"), 400, "NUL")
    assert state() == before


def test_json_without_its_content_type_is_still_read(api, update_and_draft_digest):
    response = api.post("/api/topics", data=json.dumps({"slug": "board", "name": "Board"}))
    assert response.status_code == 201


def test_a_taken_slug_is_a_conflict(api, update_and_draft_digest):
    before = state()
    assert_error(api.post("/api/topics", {"slug": "lps", "name": "Again"}), 409, "already exists")
    assert state() == before


def test_an_oversized_body_is_refused_with_json(api, update_and_draft_digest):
    before = state()
    body = {"title": "Long", "body": "x" * 300_000, "topics": ["lps"]}
    assert_error(api.post("/api/updates", body), 413)
    assert state() == before


def test_the_longest_update_body_allowed_fits_in_a_request(api, update_and_draft_digest):
    body = {"title": "Long", "body": "x" * 100_000, "topics": ["lps"]}
    assert api.post("/api/updates", body).status_code == 201
    too_long = {"title": "Longer", "body": "x" * 100_001, "topics": ["lps"]}
    assert_error(api.post("/api/updates", too_long), 400)


def test_unknown_ids_routes_and_methods_answer_json(api, update_and_draft_digest):
    assert_error(api.get("/api/digests/999"), 404, "no digest 999")
    assert_error(api.post("/api/digests/999/send"), 404)
    assert_error(api.post("/api/digests/999/pause"), 404)
    assert_error(api.get("/api/digests/99999999999999999999"), 404)
    assert_error(api.get("/api/digests/abc"), 404)
    assert_error(api.post("/api/digests/1/explode"), 404)
    assert_error(api.get("/api/nothing-here"), 404)
    assert_error(api.get("/api"), 404)
    assert_error(api.client.get("/api/nothing-here"), 404)

    wrong = api.client.delete("/api/topics", headers=api.headers)
    assert_error(wrong, 405)
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert_error(api.get("/api/digests/1/send"), 405)
    assert_error(api.post("/api/subscribers", {}), 405)


def test_pages_outside_the_api_still_answer_html(client):
    missing = client.get("/nothing-here")
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"


def test_an_update_page_is_only_for_a_published_update(app, client, update_and_draft_digest):
    draft = Update(title="Draft", body_markdown="x", body_html="<p>x</p>")
    db.session.add(draft)
    db.session.commit()
    assert client.get(f"/updates/{update_and_draft_digest['update'].id}").status_code == 200
    assert client.get(f"/updates/{draft.id}").status_code == 404
    assert client.get("/updates/999").status_code == 404
    assert client.get("/updates/99999999999999999999").status_code == 404


# --- the description


def test_the_openapi_document_describes_every_call_without_a_token(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert document["servers"] == [{"url": BASE_URL}]
    assert set(document["paths"]) == CONTRACT_PATHS | {"/api/openapi.json"}
    [scheme] = document["components"]["securitySchemes"].values()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["security"] == [
        {name: []} for name in document["components"]["securitySchemes"]
    ]

    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]
    assert {(path, method.upper()) for path, method, _ in operations} >= {
        (re.sub(r"{(digest|update)}", "{id}", path.split("?")[0]), method)
        for method, path, _ in CALLS
    }
    for path, _method, operation in operations:
        codes = set(operation["responses"])
        assert any(code.startswith("2") for code in codes)
        if path != "/api/openapi.json":
            assert "401" in codes


def test_every_reference_in_the_openapi_document_resolves(client):
    document = client.get("/api/openapi.json").get_json()

    def references(node: Any):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from references(value)
        elif isinstance(node, list):
            for value in node:
                yield from references(value)

    found = list(references(document))
    assert found
    for reference in found:
        target: Any = document
        assert reference.startswith("#/")
        for part in reference[2:].split("/"):
            target = target[part]
        assert isinstance(target, dict)
