"""Programme news: Markdown rendered once to sanitised HTML, and the updates made from it."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.html_re import attribute
from markdown_it.rules_block.html_block import HTML_SEQUENCES, html_block
from markdown_it.rules_block.state_block import StateBlock
from markdown_it.rules_core.state_core import StateCore
from sqlalchemy import Select, select

from updates import limits
from updates.extensions import db
from updates.models import Topic, Update, UpdateRevision, update_topics, utcnow
from updates.transaction import autocommit

# Elements whose content an HTML parser reads as text up to their end tag (or, for plaintext, to
# the end of the document). None is allowed, but an unclosed one in the Markdown would turn the
# rest of the update into text before the sanitiser could drop it.
RAW_TEXT = "iframe|noembed|noframes|noscript|plaintext|script|style|textarea|title|xmp"
RAW_TEXT_START = re.compile(rf"<({RAW_TEXT})(?![A-Za-z0-9-])(?:{attribute}*\s*/?>)?", re.I)
RAW_TEXT_BLOCK = re.compile(r"^<(?:script|style|textarea)(?=\s|>|$)", re.I)
RAW_TEXT_BLOCK_END = HTML_SEQUENCES[0][
    1
]  # CommonMark's: any of </script> </pre> </style> </textarea>


def _unclosed_raw_text_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """CommonMark runs a block opened by <script>, <style> or <textarea> to its end tag, and so
    to the end of the update when there is none: an unclosed one ends at a blank line instead,
    as every other HTML block does."""
    if state.is_code_block(start) or not RAW_TEXT_BLOCK.match(_line(state, start)):
        return False
    if any(RAW_TEXT_BLOCK_END.search(_line(state, line)) for line in range(start, end)):
        return False  # closed: CommonMark's own rule reads it
    blank = next((line for line in range(start + 1, end) if state.isEmpty(line)), end)
    return html_block(state, start, blank, silent)


def _line(state: StateBlock, line: int) -> str:
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def _drop_unclosed_raw_text(state: StateCore) -> None:
    """Remove the start tag of a raw-text element that is not closed within its own HTML block,
    or its own paragraph: what follows then reaches the sanitiser as the HTML it is."""
    for token in state.tokens:
        if token.type == "html_block":
            token.content = _without_unclosed([token.content])[0]
        elif token.type == "inline" and token.children:
            raw = [child for child in token.children if child.type == "html_inline"]
            for child, content in zip(
                raw, _without_unclosed([c.content for c in raw]), strict=True
            ):
                child.content = content


def _without_unclosed(fragments: list[str]) -> list[str]:
    """The fragments of HTML, in order, less each raw-text start tag no end tag follows."""
    fragments = list(fragments)
    index, position = 0, 0
    while index < len(fragments):
        start = RAW_TEXT_START.search(fragments[index], position)
        if start is None:
            index, position = index + 1, 0
            continue
        closed = _end_tag(fragments, index, start.end(), start[1].lower())
        if closed is None:
            text = fragments[index]
            fragments[index] = text[: start.start()] + text[start.end() :]
            position = start.start()
        else:
            index, position = closed
    return fragments


def _end_tag(fragments: list[str], index: int, position: int, name: str) -> tuple[int, int] | None:
    """Where the raw text of `name` ends (fragment, offset after its end tag), if it does."""
    if name == "plaintext":
        return None  # nothing ends it
    end = re.compile(rf"</{name}(?![A-Za-z0-9-])[^>]*>?", re.I)
    for at in range(index, len(fragments)):
        found = end.search(fragments[at], position if at == index else 0)
        if found is not None:
            return at, found.end()
    return None


_markdown = MarkdownIt("commonmark", {"linkify": False, "typographer": True}).enable("table")
_markdown.block.ruler.before(
    "html_block",
    "unclosed_raw_text_block",
    _unclosed_raw_text_block,
    {"alt": ["paragraph", "reference", "blockquote"]},
)
_markdown.core.ruler.push("drop_unclosed_raw_text", _drop_unclosed_raw_text)
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "em",
    "h2",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}


class ContentError(ValueError):
    """What was submitted cannot become an update or digest."""


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to put in a page or an email."""
    html = _markdown.render(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def topics_for_slugs(slugs: list[str]) -> list[Topic]:
    """The topics named, in the order given; ContentError for any unknown slug."""
    if not isinstance(slugs, list) or not all(isinstance(slug, str) for slug in slugs):
        raise ContentError("topics must be a list of topic slugs")
    found = {t.slug: t for t in db.session.scalars(select(Topic).where(Topic.slug.in_(slugs)))}
    unknown = [slug for slug in slugs if slug not in found]
    if unknown:
        raise ContentError(f"unknown topic: {', '.join(unknown)}")
    return [found[slug] for slug in dict.fromkeys(slugs)]


def check_text(name: str, value: object, limit: int, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise ContentError(f"{name} is required")
    if len(value) > limit:
        raise ContentError(f"{name} is longer than {limit} characters")
    if "\x00" in value:
        raise ContentError(f"{name} contains a character that cannot be stored")
    return value.strip()


@autocommit
def create_update(
    title: str,
    body: str,
    topic_slugs: list[str],
    publish: bool = True,
    staff_id: int | None = None,
) -> Update:
    """Save an update and its first revision, rendering its body once; published now unless
    told otherwise."""
    title = check_text("title", title, limits.UPDATE_TITLE)
    body = check_text("body", body, limits.UPDATE_BODY)
    topics = topics_for_slugs(topic_slugs)
    if not topics:
        raise ContentError("an update needs at least one topic")
    update = Update(
        title=title,
        body_markdown=body,
        body_html=render_markdown(body),
        topics=topics,
        published_at=utcnow() if publish else None,
    )
    update.revisions.append(new_revision(update, staff_id))
    db.session.add(update)
    return update


def new_revision(update: Update, staff_id: int | None) -> UpdateRevision:
    """A revision holding what the update says now."""
    return UpdateRevision(
        title=update.title,
        body_markdown=update.body_markdown,
        body_html=update.body_html,
        topic_ids=sorted(topic.id for topic in update.topics),
        staff_id=staff_id,
    )


def published_updates(topic: Topic | None = None, limit: int = 50) -> list[Update]:
    """Newest first: published updates in at least one public topic (or in `topic`)."""
    return list(db.session.scalars(published_query(topic).limit(limit)))


def published_query(topic: Topic | None = None) -> Select[tuple[Update]]:
    """Newest first: published, not withdrawn, in a public topic (or in `topic`)."""
    public_topic = (
        select(update_topics.c.update_id)
        .join(Topic, Topic.id == update_topics.c.topic_id)
        .where(Topic.public.is_(True), Topic.archived.is_(False))
    )
    if topic is not None:
        public_topic = public_topic.where(Topic.id == topic.id)
    return (
        select(Update)
        .where(
            Update.published_at.is_not(None),
            Update.published_at <= utcnow(),
            Update.withdrawn_at.is_(None),
            Update.id.in_(public_topic),
        )
        .order_by(Update.published_at.desc(), Update.id.desc())
    )
