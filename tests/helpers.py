"""Reading pages and emails the way a person does: parse them, find the form, follow the link."""

from __future__ import annotations

import re
from email.message import EmailMessage
from urllib.parse import urlsplit

from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

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
