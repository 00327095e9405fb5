"""Reading pages and emails the way a person does: parse them, find the form, follow the link.
Signing staff in, and reading back what the database holds."""

from __future__ import annotations

import os
import re
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from updates.extensions import db
from updates.models import (
    AuditEvent,
    ConsentEvent,
    Digest,
    OutboundEmail,
    SignupRequest,
    Subscriber,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

BASE_URL = "https://updates.example.org"
PASSWORD = "correct horse battery staple"  # every staff account's, unless a test says otherwise

URL = re.compile(r"https?://[^\s<>\"')]+")


def page(response: TestResponse) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def form_values(form) -> dict[str, str | list[str]]:
    """What the browser would submit: hidden and text inputs, checked boxes."""
    values: dict[str, str | list[str]] = {}
    for field in form.find_all("input"):
        name, kind = field.get("name"), field.get("type", "text")
        if not name:
            continue
        if kind == "checkbox":
            if field.has_attr("checked"):
                values.setdefault(name, [])
                values[name].append(field.get("value", "on"))  # type: ignore[union-attr]
        else:
            values[name] = field.get("value", "")
    return values


def text_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_part(message: EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def links_in(message: EmailMessage) -> list[str]:
    return URL.findall(text_part(message))


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_up(client: FlaskClient, address: str, topics: list[str], **extra: str) -> TestResponse:
    """Fill in and submit the sign-up form as a visitor would."""
    form = page(client.get("/")).find("form", method="post")
    values = form_values(form)
    values.update({"email": address, "topics": topics, **extra})
    return client.post("/", data=values)


def submit_only_form(client: FlaskClient, url: str) -> TestResponse:
    """Open a link's page and press its one button."""
    path = path_of(url)
    form = page(client.get(path)).find("form", method="post")
    return client.post(form.get("action") or path, data=form_values(form))


def only_link(message) -> str:
    """The one confirmation link in an email."""
    links = [link for link in links_in(message) if "/confirm/" in link]
    assert len(links) == 1, links
    return links[0]


# -- staff in the console -------------------------------------------------------------------------


def form_with_button(html, label: str):
    """The form with a submit button that reads `label` (the nav's sign-out form is a form too)."""
    for form in html.find_all("form", method="post"):
        if any(button.get_text().strip() == label for button in form.find_all("button")):
            return form
    raise AssertionError(f"no form with a {label!r} button")


def sign_in(client, email: str, password: str = PASSWORD, next_path: str | None = None):
    url = "/admin/login" + (f"?next={next_path}" if next_path else "")
    form = page(client.get(url)).find("form", method="post")
    values = form_values(form)
    assert set(values) == {"csrf_token", "email", "password"}
    values.update(email=email, password=password)
    return client.post(url, data=values)


def signed_in(app: Flask, who: str):
    """A client of `who`@example.org's, signed in."""
    client = app.test_client()
    assert sign_in(client, f"{who}@example.org").status_code == 302
    return client


def press(client, path: str, label: str, **changes):
    """Open the page, fill in the form whose button reads `label`, and submit it."""
    form = form_with_button(page(client.get(path)), label)
    values = form_values(form)
    values.update(changes)
    return client.post(form.get("action") or path, data=values)


def confirm(client, asked):
    """Answer yes on the confirmation page `asked`, and return what that answers."""
    assert asked.status_code == 200, asked.get_data(as_text=True)
    form = page(asked).find("form", class_="confirm")
    assert form is not None, "not a confirmation page"
    return client.post(form["action"], data=form_values(form))


def press_and_confirm(client, path: str, label: str, **changes):
    """press(), then answer yes to the question it asks."""
    return confirm(client, press(client, path, label, **changes))


def errors_on(response) -> str:
    return " ".join(e.get_text() for e in page(response).select(".error-message"))


# -- what the database holds ----------------------------------------------------------------------


def subscriber(address: str) -> Subscriber | None:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber).where(Subscriber.email_key == address.lower()))


def followed(address: str) -> set[str]:
    """The slugs of the topics an address follows."""
    found = subscriber(address)
    return {s.topic.slug for s in found.subscriptions} if found else set()


def row_counts() -> dict[str, int]:
    db.session.expire_all()
    models = (Subscriber, SignupRequest, ConsentEvent, OutboundEmail)
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def digest_status(digest_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Digest, digest_id).status


# -- in a browser ---------------------------------------------------------------------------------


def snapshot(page: Page, folder: Path, name: str) -> None:
    """A full-page screenshot, kept with the test's files."""
    path = folder / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 0, path


def missing_part(reason: str, required_by: str) -> NoReturn:
    """Skip a test for want of a system part, or fail it where `required_by`=1 (CI) says the
    part must be there: a missing install step must not pass as a skip."""
    if os.environ.get(required_by) == "1":
        pytest.fail(f"{required_by}=1 but {reason}", pytrace=False)
    pytest.skip(reason)
