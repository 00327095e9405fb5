"""The embeddable sign-up form: which sites may frame it, and which topics it offers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna
from sqlalchemy import select

from updates.extensions import db
from updates.models import EmbedOrigin
from updates.news.topics import OfferedTopic, offered_topics
from updates.transaction import autocommit

MAX_ORIGIN_LENGTH = 300
HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


class EmbedError(ValueError):
    """An origin or a topic list that cannot be used as asked."""


def allowed_origins() -> list[EmbedOrigin]:
    return list(db.session.scalars(select(EmbedOrigin).order_by(EmbedOrigin.origin)))


def frame_ancestors() -> str:
    """The CSP directive for the embeddable form: this site and the listed ones, nothing else."""
    origins = db.session.scalars(select(EmbedOrigin.origin).order_by(EmbedOrigin.origin))
    return " ".join(["frame-ancestors 'self'", *filter(None, map(_as_source, origins))])


def _as_source(origin: str) -> str | None:
    """A stored origin as a CSP source: in ASCII, as a header must be. One listed before origins
    were stored in ASCII is converted, and one that cannot be is left out rather than break
    every answer of the form."""
    if origin.isascii() and origin.isprintable() and " " not in origin:
        return origin
    try:
        return normalise_origin(origin)
    except EmbedError:
        return None


def normalise_origin(text: str) -> str:
    """`https://www.example.org` from what an admin typed; EmbedError if it is not an origin.

    Only scheme, host and port: a CSP source with a path, a wildcard or a quote could
    allow more than the admin meant. An international host is kept in punycode
    (`https://xn--bcher-kva.example`): the origin goes into a header, which holds only ASCII.
    """
    candidate = text.strip().rstrip("/")
    if len(candidate) > MAX_ORIGIN_LENGTH:
        raise EmbedError(f"an origin is at most {MAX_ORIGIN_LENGTH} characters")
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as error:
        raise EmbedError(f"{candidate!r} is not a web address") from error
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise EmbedError("give the site as https://host, for example https://www.example.org")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise EmbedError("give only the scheme and host (and port), with no path")
    host = _ascii_host(host)
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def _ascii_host(host: str) -> str:
    """The host name in ASCII, international labels in punycode; EmbedError if it is not one."""
    try:
        ascii_host = host if host.isascii() else idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise EmbedError(f"{host!r} is not a host name") from error
    if not all(HOST_LABEL.match(label) for label in ascii_host.split(".")):
        raise EmbedError(f"{host!r} is not a host name")
    return ascii_host


@autocommit
def allow_origin(text: str) -> EmbedOrigin:
    """List a site that may frame the form; EmbedError for a bad or already listed one."""
    origin = normalise_origin(text)
    if db.session.scalar(select(EmbedOrigin).where(EmbedOrigin.origin == origin)):
        raise EmbedError(f"{origin} is already listed")
    row = EmbedOrigin(origin=origin)
    db.session.add(row)
    return row


@autocommit
def disallow_origin(row: EmbedOrigin) -> None:
    db.session.delete(row)


def embedded_topics(slugs: str) -> list[OfferedTopic]:
    """The public topics a comma-separated list names, in display order; all of them if empty.

    EmbedError names any slug that is not a public topic, so a stale snippet is noticed.
    """
    offered = list(offered_topics())
    wanted = [slug for slug in slugs.split(",") if slug.strip()] if slugs else []
    if not wanted:
        return offered
    by_slug = {topic.slug: topic for topic in offered}
    unknown = [slug for slug in wanted if slug not in by_slug]
    if unknown:
        raise EmbedError("these topics are not offered: " + ", ".join(unknown[:5])[:200])
    chosen = set(wanted)
    return [topic for topic in offered if topic.slug in chosen]
