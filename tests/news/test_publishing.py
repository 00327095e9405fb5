"""Markdown to sanitised HTML: an unclosed raw-text element cannot swallow the rest."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from updates.news.publishing import render_markdown

RAW_TEXT = ["iframe", "textarea", "style", "script", "title", "xmp", "noembed", "noframes"]
ALL_RAW_TEXT = [*RAW_TEXT, "plaintext"]
REST = "\n\nThe next paragraph has **bold** words.\n\n- a list item\n"


def rendered(markdown: str) -> BeautifulSoup:
    return BeautifulSoup(render_markdown(markdown), "html.parser")


def assert_the_rest_is_html(soup: BeautifulSoup) -> None:
    assert soup.find("strong").get_text() == "bold"
    assert soup.find("li").get_text() == "a list item"
    assert "<" not in soup.get_text()  # no markup shown as text


@pytest.mark.parametrize("name", ALL_RAW_TEXT)
def test_an_unclosed_raw_text_element_on_its_own_line_leaves_the_rest_as_html(name):
    soup = rendered(f'Before.\n\n<{name} src="https://example.org/">{REST}')
    assert soup.find("p").get_text() == "Before."
    assert_the_rest_is_html(soup)


@pytest.mark.parametrize("name", ALL_RAW_TEXT)
def test_an_unclosed_raw_text_element_inside_a_paragraph_leaves_the_rest_as_html(name):
    soup = rendered(f"Before <{name}> and after.{REST}")
    assert soup.find("p").get_text() == "Before  and after."
    assert_the_rest_is_html(soup)


@pytest.mark.parametrize("name", ["style", "script", "textarea"])
def test_an_unclosed_block_that_commonmark_runs_to_its_end_tag_ends_at_a_blank_line(name):
    soup = rendered(f"<{name}>\nstill the element\n{REST}")
    assert_the_rest_is_html(soup)


@pytest.mark.parametrize("name", ["script", "style"])
def test_a_closed_script_or_style_is_still_removed_with_its_content(name):
    soup = rendered(f"<{name}>\nalert(1)\n\nmore\n</{name}>{REST}")
    assert "alert" not in soup.get_text() and "more" not in soup.get_text()
    assert_the_rest_is_html(soup)


@pytest.mark.parametrize("name", RAW_TEXT)
def test_a_closed_raw_text_element_keeps_its_content_as_text(name):
    soup = rendered(f"Before <{name}>inside <b>it</b></{name}> after.{REST}")
    assert soup.find("b") is None  # markup inside the element stays text, as it always did
    rest = BeautifulSoup(str(soup.find_all("p")[-1]) + str(soup.ul), "html.parser")
    assert_the_rest_is_html(rest)


def test_a_raw_text_tag_in_code_is_shown_as_written():
    soup = rendered(f"Write `<iframe>` or:\n\n    <textarea>\n{REST}")
    assert soup.find("code").get_text() == "<iframe>"
    assert soup.find("pre").get_text() == "<textarea>\n"
    assert soup.find("strong").get_text() == "bold"
