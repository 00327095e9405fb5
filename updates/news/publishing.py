"""Programme news: Markdown rendered once to sanitised HTML, and the updates made from it."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import select

from updates import limits
from updates.extensions import db
from updates.models import Topic, Update, update_topics, utcnow
from updates.transaction import autocommit

_markdown = MarkdownIt("commonmark", {"linkify": False, "typographer": True}).enable("table")
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
def create_update(title: str, body: str, topic_slugs: list[str], publish: bool = True) -> Update:
    """Save an update, rendering its body once; published now unless told otherwise."""
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
    db.session.add(update)
    return update


def recent_updates(limit: int = 50, published_only: bool = False) -> list[Update]:
    """Newest first, for staff: every update, or only those published."""
    query = select(Update).order_by(Update.id.desc()).limit(limit)
    if published_only:
        query = query.where(Update.published_at.is_not(None))
    return list(db.session.scalars(query))


def published_updates(topic: Topic | None = None, limit: int = 50) -> list[Update]:
    """Newest first: published updates in at least one public topic (or in `topic`)."""
    public_topic = (
        select(update_topics.c.update_id)
        .join(Topic, Topic.id == update_topics.c.topic_id)
        .where(Topic.public.is_(True), Topic.archived.is_(False))
    )
    if topic is not None:
        public_topic = public_topic.where(Topic.id == topic.id)
    query = (
        select(Update)
        .where(
            Update.published_at.is_not(None),
            Update.published_at <= utcnow(),
            Update.id.in_(public_topic),
        )
        .order_by(Update.published_at.desc(), Update.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))
