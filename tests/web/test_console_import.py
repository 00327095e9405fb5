"""Importing subscribers from a CSV: uploaded in the console, and from a terminal with a bar."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from tests.factories import create_subscriber, create_topics
from tests.helpers import (
    PASSWORD,
    form_values,
    form_with_button,
    page,
    path_of,
    sign_in,
    submit_only_form,
)
from updates import ROOT
from updates.addresses import address_hash
from updates.console import imports
from updates.extensions import db
from updates.links import manage_url
from updates.models import AuditEvent, ConsentEvent, Subscriber, Subscription, Suppression
from updates.staff.accounts import add_staff
from updates.subscribers import importer
from updates.subscribers.import_uploads import EXPIRES
from updates.worker.imports import sweep_abandoned_uploads

CONSENT = "Delegate list, Local Public Services Summit 2026, opted in on the booking form"
PEOPLE = (
    "name,Email\n"
    "Ada,ada@example.org\n"
    "Bob,BOB@example.org\n"
    "Bad,not-an-address\n"
    "Dup,Ada@Example.org\n"
    "Gone,gone@example.org\n"
    "Left,left@example.org\n"
    "Reader,reader@example.org\n"
)


@pytest.fixture
def uploads(app, tmp_path, monkeypatch) -> Path:
    """Uploads land in a folder of the test's own, for the app serving and the one running jobs."""
    for each in (app, current_app._get_current_object()):
        monkeypatch.setattr(each, "instance_path", str(tmp_path))
    return tmp_path / "imports"


@pytest.fixture
def staff(app, uploads):
    add_staff("admin@example.org", "admin", PASSWORD)
    add_staff("editor@example.org", "editor", PASSWORD)
    create_topics("events", "care")


@pytest.fixture
def admin(app, staff):
    client = app.test_client()
    assert sign_in(client, "admin@example.org").status_code == 302
    return client


def upload(client, content: bytes | str, filename: str = "people.csv", **overrides):
    """Fill in the import form as an admin would and press Import."""
    form = form_with_button(page(client.get("/admin/import")), "Import")
    values = form_values(form)
    values.update(topics=["events", "care"], consent=CONSENT)
    data = content.encode() if isinstance(content, str) else content
    values["file"] = (io.BytesIO(data), filename)
    values.update(overrides)
    return client.post("/admin/import", data=values, content_type="multipart/form-data")


def table_counts(html, selector: str) -> dict[str, str]:
    return {
        row.th.get_text(strip=True): row.td.get_text(strip=True)
        for row in html.select(f"{selector} tr")
        if row.th and row.td
    }


def test_an_admin_imports_a_csv_and_reads_the_report(admin, uploads, run_jobs):
    db.session.add(Suppression(email_hash=address_hash("gone@example.org"), reason="erased"))
    db.session.add(
        Subscriber(email="left@example.org", email_key="left@example.org", status="unsubscribed")
    )
    db.session.commit()
    create_subscriber("reader@example.org", ["events", "care"])

    response = upload(admin, PEOPLE)
    assert response.status_code == 303
    progress_page = response.headers["Location"]
    import_id = progress_page.rsplit("/", 1)[1]
    assert (uploads / f"{import_id}.csv").exists()

    waiting = page(admin.get(progress_page))
    bar = waiting.find("progress")
    assert (bar["max"], bar["value"]) == ("1", "0")  # rows are counted by the job
    assert "Waiting for a worker" in waiting.get_text()
    assert waiting.find("a", string="Reload this page")["href"] == progress_page
    assert waiting.find(id="import-report") is None
    assert admin.get(f"{progress_page}/progress").get_json()["state"] == "queued"

    run_jobs()

    done = page(admin.get(progress_page))
    assert "Finished." in done.get_text()
    assert (done.find("progress")["max"], done.find("progress")["value"]) == ("7", "7")
    assert done.find("a", string="Reload this page") is None
    assert table_counts(done, "#import-report") == {
        "Imported": "2",
        "Already subscribed": "1",
        "Skipped: not a valid address, name or organisation": "1",
        "Skipped: repeated in the file": "1",
        "Skipped: suppressed or erased": "1",
        "Skipped: unsubscribed before": "1",
    }
    assert admin.get(f"{progress_page}/progress").get_json() == {
        "state": "done",
        "total": 7,
        "processed": 7,
        "imported": 2,
        "unchanged": 1,
        "skipped": {"invalid": 1, "suppressed": 1, "unsubscribed": 1, "duplicate": 1},
        "skipped_total": 4,
        "error": "",
    }

    statuses = dict(db.session.execute(select(Subscriber.email_key, Subscriber.status)).all())
    assert statuses == {
        "ada@example.org": "active",
        "bob@example.org": "active",
        "left@example.org": "unsubscribed",
        "reader@example.org": "active",
    }
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 6
    events = db.session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
    assert [(e.action, e.source, e.topics) for e in events] == [
        ("imported", "import", ["care", "events"]),
        ("imported", "import", ["care", "events"]),
    ]
    assert events[0].statement.text == CONSENT
    assert not (uploads / f"{import_id}.csv").exists()
    audited = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert audited == ["subscribers import started", "subscribers imported"]


def test_an_upload_larger_than_the_app_allows_elsewhere_is_accepted(admin, uploads, run_jobs):
    rows = "".join(f"person{n}@example.org\n" for n in range(15_000))
    assert len(rows) > current_app.config["MAX_CONTENT_LENGTH"]
    response = upload(admin, "email\n" + rows)
    assert response.status_code == 303
    run_jobs()
    assert admin.get(f"{response.headers['Location']}/progress").get_json()["total"] == 15_000


def test_an_upload_over_the_import_limit_is_refused_with_the_limit_shown(
    admin, uploads, monkeypatch
):
    monkeypatch.setattr(imports, "MAX_UPLOAD", 1024)
    response = upload(admin, "email\n" + "someone@example.org\n" * 100)
    assert response.status_code == 413
    assert "Split it into smaller files" in page(response).find(class_="error-summary").get_text()
    assert not uploads.exists() or not list(uploads.iterdir())


def test_an_upload_that_says_it_is_too_large_is_refused_before_it_is_read(admin, uploads):
    body = io.BytesIO(b"--x\r\n")  # the rest never comes: the length alone decides
    response = admin.post(
        "/admin/import",
        input_stream=body,
        content_type="multipart/form-data; boundary=x",
        environ_overrides={"CONTENT_LENGTH": str(imports.MAX_UPLOAD + 1)},
    )
    assert response.status_code == 413
    summary = page(response).find(class_="error-summary").get_text()
    assert "The file is larger than 50 MB, the most one import takes." in summary
    assert body.tell() == 0
    assert not uploads.exists() or not list(uploads.iterdir())


def test_the_request_reads_only_the_start_and_the_job_finds_a_problem_further_on(
    admin, uploads, run_jobs
):
    rows = "".join(f"person{n}@example.org\n" for n in range(5_000)).encode()
    response = upload(admin, b"email\n" + rows + b"\xff\xfebroken@example.org\n")
    assert response.status_code == 303  # answered without reading the file to its end
    progress = f"{response.headers['Location']}/progress"
    assert admin.get(progress).get_json()["total"] == 0  # not counted yet
    run_jobs()
    status = admin.get(progress).get_json()
    assert (status["state"], status["imported"]) == ("failed", 0)
    assert "not UTF-8" in status["error"]
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
    stopped = page(admin.get(response.headers["Location"]))
    assert "Stopped: the file is not UTF-8" in stopped.find(role="status").get_text()
    assert "importing the file again finishes it" in stopped.find(id="after-failure").get_text()


@pytest.mark.parametrize(
    ("content", "filename", "overrides", "problem"),
    [
        ("email\nada@example.org\n", "", {}, "Choose a CSV file."),
        ("email\nada@example.org\n", "people.xlsx", {}, "The file must be a CSV (.csv)."),
        ("address\nada@example.org\n", "people.csv", {}, "needs a header row with an 'email'"),
        (b"email\n\xff\xfeada@example.org\n", "people.csv", {}, "The file is not UTF-8 text"),
        ("email\nada@example.org\n", "people.csv", {"topics": ["nope"]}, "not a valid choice"),
        ("email\nada@example.org\n", "people.csv", {"topics": []}, "Choose at least one topic."),
        ("email\nada@example.org\n", "people.csv", {"consent": "  "}, "Say on what basis"),
    ],
)
def test_a_bad_upload_is_refused_with_the_problem_shown(
    admin, uploads, run_jobs, content, filename, overrides, problem
):
    response = upload(admin, content, filename, **overrides)
    assert response.status_code == 400
    html = page(response)
    assert problem in html.find(class_="error-summary").get_text()
    assert html.find("form", enctype="multipart/form-data") is not None
    run_jobs()
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 0
    assert not uploads.exists() or not list(uploads.iterdir())


def test_an_upload_without_its_csrf_token_is_refused(admin, uploads):
    response = upload(admin, "email\nada@example.org\n", csrf_token="")
    assert response.status_code == 400
    assert "nothing was changed" in page(response).get_text()
    assert not uploads.exists() or not list(uploads.iterdir())


@pytest.fixture
def queue_redis_down(app_config):
    app_config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # the limiter keeps its own, working one


def test_an_upload_while_redis_is_down_is_refused_and_not_kept(queue_redis_down, admin, uploads):
    response = upload(admin, "email\nada@example.org\n")
    assert response.status_code == 503
    assert "cannot be reached" in page(response).find(class_="error-summary").get_text()
    assert not list(uploads.iterdir())
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_an_editor_may_not_import_or_watch_an_import(app, staff, admin):
    location = upload(admin, "email\nada@example.org\n").headers["Location"]
    editor = app.test_client()
    sign_in(editor, "editor@example.org")
    token = form_values(page(editor.get("/admin/")).find("form", method="post"))["csrf_token"]
    assert editor.get("/admin/import").status_code == 403
    refused = editor.post(
        "/admin/import",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(b"email\nbob@example.org\n"), "people.csv"),
            "topics": ["events"],
            "consent": CONSENT,
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 403
    assert editor.get(location).status_code == 403
    assert editor.get(f"{location}/progress").status_code == 403


def test_an_unknown_or_expired_import_is_not_found(admin):
    assert admin.get(f"/admin/import/{'0' * 32}").status_code == 404
    assert admin.get(f"/admin/import/{'0' * 32}/progress").status_code == 404


def test_progress_is_reported_after_every_chunk(app, staff, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK", 2)
    calls: list[tuple[int, int]] = []
    addresses = ["a@example.org", "b@example.org", "bad", "c@example.org", "a@example.org"]
    report = importer.import_subscribers(
        [(address, "", "") for address in addresses],
        ["events"],
        CONSENT,
        lambda rows, so_far: calls.append((rows, so_far.imported)),
    )
    # PostgreSQL writes the whole file at the end, so its last call reports the imported.
    assert [rows for rows, _ in calls] == [2, 2, 1]
    assert calls[-1] == (1, 3)
    assert (
        report.summary() == "imported 3, already subscribed 0, skipped 2 (1 invalid, 1 duplicate)"
    )


@pytest.mark.slow  # runs the command twice in real processes
def test_the_command_draws_a_bar_on_a_terminal_and_ends_with_the_summary(
    app_config, staff, tmp_path
):
    csv = tmp_path / "people.csv"
    csv.write_text("email\nada@example.org\nbob@example.org\nnot-an-address\n")
    env = {
        **os.environ,
        "UPDATES_ENV": "test",
        "DATABASE_URL": str(app_config["SQLALCHEMY_DATABASE_URI"]),
        "REDIS_URL": str(app_config["REDIS_URL"]),
    }
    args = ["subscribers", "import", str(csv), "--topics", "events", "--consent", CONSENT]
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "flask", "--app", "updates", *args]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0, output
    text = output.decode()
    assert "Importing" in text and "3/3" in text
    last_line = text.replace("\r", "\n").strip().splitlines()[-1]
    assert last_line == "imported 2, already subscribed 0, skipped 1 (1 invalid)"

    # Off a terminal, as when a script reads it: the summary line and nothing else.
    csv.write_text("email\nada@example.org\ncy@example.org\n")
    piped = subprocess.run(command, env=env, cwd=ROOT, capture_output=True)
    assert piped.stdout.decode() == "imported 1, already subscribed 1, skipped 0\n"


def test_the_hourly_sweep_deletes_only_uploads_no_import_can_read_any_more(uploads):
    uploads.mkdir(parents=True)
    abandoned, recent, other = uploads / "old.csv", uploads / "new.csv", uploads / "notes.txt"
    for path in (abandoned, recent, other):
        path.write_text("email\nada@example.org\n")
    two_days_ago = time.time() - 2 * EXPIRES
    for path in (abandoned, other):
        os.utime(path, (two_days_ago, two_days_ago))
    assert sweep_abandoned_uploads() == 1
    assert sorted(p.name for p in uploads.iterdir()) == ["new.csv", "notes.txt"]
    assert sweep_abandoned_uploads() == 0


def test_imported_names_show_in_the_console_the_export_and_the_persons_own_download(
    app, admin, uploads, run_jobs
):
    people = (
        "Email,Name,ORGANISATION\n"
        "ada@example.org,Ada Lovelace,Analytical Engines\n"
        "eve@example.org,=HYPERLINK(1),+Evil\n"
    )
    assert upload(admin, people).status_code == 303
    run_jobs()

    listed = page(admin.get("/admin/subscribers?q=example.org"))
    names = {row.a.get_text(): row.find_all("td")[1].get_text() for row in listed.tbody("tr")}
    assert names == {
        "ada@example.org": "Ada Lovelace, Analytical Engines",
        "eve@example.org": "=HYPERLINK(1), +Evil",
    }
    ada = db.session.scalar(select(Subscriber).where(Subscriber.email == "ada@example.org"))
    shown = page(admin.get(f"/admin/subscribers/{ada.id}")).find(class_="attributes").get_text()
    assert shown == "Name: Ada Lovelace. Organisation: Analytical Engines."

    exported = admin.get("/admin/exports/subscribers.csv")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert {(r["email"], r["name"], r["organisation"]) for r in rows} == {
        ("ada@example.org", "Ada Lovelace", "Analytical Engines"),
        ("eve@example.org", "'=HYPERLINK(1)", "'+Evil"),
    }

    visitor = app.test_client()
    with app.test_request_context():
        manage = path_of(manage_url(ada))
    download = visitor.get(page(visitor.get(manage)).find("a", string="Download your data")["href"])
    data = json.loads(download.get_data(as_text=True))
    assert (data["name"], data["organisation"]) == ("Ada Lovelace", "Analytical Engines")
    erase = page(visitor.get(manage)).find("a", string="Erase your data")["href"]
    assert submit_only_form(visitor, erase).status_code == 200
    db.session.expire_all()
    gone = db.session.get(Subscriber, ada.id)
    assert (gone.status, gone.email, gone.name, gone.organisation) == ("erased", None, None, None)
