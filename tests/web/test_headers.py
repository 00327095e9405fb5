"""Headers on every answer: one content security policy that runs only our own scripts."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.helpers import signed_in
from updates import ROOT
from updates.news.embeds import allow_origin

PAGES = ("/", "/manage", "/updates", "/admin/login", "/no-such-page", "/embed")


def policy_of(response) -> dict[str, str]:
    """The answer's one Content-Security-Policy header, as directive -> sources."""
    [header] = response.headers.getlist("Content-Security-Policy")
    pairs = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: (rest[0] if rest else "") for name, *rest in pairs}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_scripts_and_styles_only_from_this_site(client, topics, path):
    policy = policy_of(client.get(path))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'self'"


def test_the_embed_has_one_policy_that_adds_the_listed_sites_as_framers(client, topics):
    allow_origin("https://www.example.org")
    response = client.get("/embed")
    policy = policy_of(response)
    assert policy["frame-ancestors"] == "'self' https://www.example.org"
    assert policy["script-src"] == "'self'"
    assert "X-Frame-Options" not in response.headers
    assert client.get("/").headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_email_preview_allows_the_emails_inline_styles_and_still_no_script(app, people):
    editor = signed_in(app, "editor")
    response = editor.get(f"/admin/digests/{people['digest']}/preview")
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"] == "'self'"


class _Inline(HTMLParser):
    """Collects what a strict policy would refuse: inline scripts, handlers, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("an inline <script>")
        if tag == "style":
            self.found.append("a <style> element")
        self.found += [f"{tag} {name}=" for name in names if name.startswith("on")]
        if "style" in names:
            self.found.append(f"{tag} style=")
        self.found += [
            f"{tag} javascript: link" for _, v in attrs if (v or "").startswith("javascript:")
        ]


def page_templates() -> list[Path]:
    """Every template rendered as a page (emails go to mail clients, not under our policy)."""
    folder = ROOT / "templates"
    return sorted(p for p in folder.rglob("*.html") if "emails" not in p.relative_to(folder).parts)


@pytest.mark.parametrize("template", page_templates(), ids=lambda p: p.name)
def test_no_page_template_holds_inline_script_handlers_or_styles(template):
    parser = _Inline()
    parser.feed(template.read_text())
    assert parser.found == [], template
