"""Newsletter emails: rendered once per variant, personalised per recipient by substitution.

A variant is the set of the digest's topics a subscriber follows, and the digest's updates they
were already sent, which their copy leaves out. Rendering, sanitising and
CSS inlining happen once per variant; per recipient only the address and the links change,
and the message bytes are assembled directly (quoted-printable in C), because building an
EmailMessage per recipient costs about a millisecond.
"""

from __future__ import annotations

import binascii
import html
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

import css_inline
import dkim
from flask import current_app, render_template

from updates import links
from updates.mail.messages import message_domain, tagged_message_id
from updates.models import Digest, Topic, Update, UpdateRevision

MANAGE = "@@MANAGE_URL@@"
UNSUBSCRIBE = "@@UNSUBSCRIBE_URL@@"
ADDRESS = "@@ADDRESS@@"
_inliner = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    subscriber_id: int
    email: str
    token_version: int
    topic_ids: frozenset[int]
    already: frozenset[int] = frozenset()  # the digest's updates they were sent before

    @property
    def variant(self) -> tuple[frozenset[int], frozenset[int]]:
        return self.topic_ids, self.already


@dataclass(frozen=True)
class Section:
    topic: Topic
    updates: list[Update | UpdateRevision]


def sections_for(
    digest: Digest, topic_ids: frozenset[int], already: frozenset[int] = frozenset()
) -> list[Section]:
    """The digest's updates under the followed topics, each update once, in digest order,
    less those `already` sent.

    A digest that started sending shows the revisions it pinned then; a draft, the updates as
    they read now."""
    shown: set[int] = set(already)
    sections = []
    entries = [(item.update_id, item.shown) for item in digest.items]
    for topic in digest.topics:
        if topic.id not in topic_ids:
            continue
        items = []
        for update_id, entry in entries:
            if update_id not in shown and topic.id in entry.topic_ids:
                items.append(entry)
                shown.add(update_id)
        if items:
            sections.append(Section(topic, items))
    return sections


def _calendar_url(update_id: int) -> str:
    return links.external_url("public.event_ics", update_id=update_id)


def message_id(digest_id: int, subscriber_id: int, domain: str | None = None) -> str:
    """Deterministic per digest and subscriber, so that a rare re-send is recognisable."""
    return tagged_message_id(f"digest-{digest_id}.{subscriber_id}", domain)


def list_id() -> str:
    return f"{current_app.config['ORG_NAME']} updates <updates.{message_domain()}>"


def _header(name: str, value: str) -> bytes:
    """A folded header line, RFC 2047-encoded where it is not ASCII."""
    return SMTP.header_factory(name, value).fold(policy=SMTP).encode("ascii")


class Variant:
    """One rendered variant of a digest, ready to be personalised."""

    test_by: str | None = None  # a test copy names who asked for it

    def __init__(
        self, digest: Digest, topic_ids: frozenset[int], already: frozenset[int] = frozenset()
    ) -> None:
        self.digest_id = digest.id
        self.topic_ids = topic_ids
        sections = sections_for(digest, topic_ids, already)
        # None of the digest's updates concern them, or they have every one that does: no
        # email rather than an empty one.
        self.empty = bool(digest.items) and not sections
        self.all_sent = self.empty and bool(already) and bool(sections_for(digest, topic_ids))
        self.update_ids = frozenset(u.update_id for section in sections for u in section.updates)
        self.record_id: int | None = None  # its row in the ledger's variants, once sent
        context = {
            "digest": digest,
            "subject": digest.subject,
            "sections": sections,
            "org_name": current_app.config["ORG_NAME"],
            "org_address": current_app.config["ORG_ADDRESS"],
            "manage_url": MANAGE,
            "unsubscribe_url": UNSUBSCRIBE,
            "address": ADDRESS,
            "calendar_url": _calendar_url,
            "test_by": self.test_by,
        }
        self.text = render_template("emails/newsletter.txt", **context).replace("\r\n", "\n")
        self.text = self.text.strip().replace("\n", "\r\n") + "\r\n"
        page = render_template("emails/newsletter.html", **context)
        self.html = _inliner.inline(page).replace("\r\n", "\n").replace("\n", "\r\n")
        self.boundary = f"=_{uuid.uuid4().hex}"
        self.domain = message_domain()
        self.shared_headers = b"".join(
            [
                _header("From", current_app.config["MAIL_FROM"]),
                _header("Subject", f"[Test] {digest.subject}" if self.test_by else digest.subject),
                _header("Date", format_datetime(datetime.now(UTC))),
                _header("List-Id", list_id()),
                _header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                b"Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\nMIME-Version: 1.0\r\n",
                f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n'.encode(),
            ]
        )
        self.text_part = _Part(self.text, self.boundary, "plain")
        self.html_part = _Part(self.html, self.boundary, "html")
        self.closing = f"\r\n--{self.boundary}--\r\n".encode()

    def links(self, recipient: Recipient) -> tuple[str, str]:
        """The manage and unsubscribe URLs for one recipient."""
        manage = links.manage_url_for(recipient.subscriber_id, recipient.token_version)
        unsubscribe = links.unsubscribe_url_for(
            recipient.subscriber_id, recipient.token_version, self.topic_ids
        )
        return manage, unsubscribe

    def personalise(self, recipient: Recipient) -> tuple[str, str, str]:
        """The text part, the HTML part and the unsubscribe URL for one recipient."""
        manage, unsubscribe = self.links(recipient)
        text = _fill(self.text, manage, unsubscribe, recipient.email)
        page = _fill(self.html, manage, unsubscribe, html.escape(recipient.email))
        return text, page, unsubscribe

    def message_for(self, recipient: Recipient) -> bytes:
        """The wire bytes for one recipient."""
        manage, unsubscribe = self.links(recipient)
        return b"".join(
            [
                self.shared_headers,
                f"To: {recipient.email}\r\n".encode(),
                f"Message-ID: {message_id(self.digest_id, recipient.subscriber_id, self.domain)}"
                f"\r\nList-Unsubscribe: <{unsubscribe}>\r\n\r\n".encode(),
                self.text_part.encoded(manage, unsubscribe, recipient.email),
                b"\r\n",
                self.html_part.encoded(manage, unsubscribe, html.escape(recipient.email)),
                self.closing,
            ]
        )


class StaffTestCopy(Variant):
    """A variant sent to a staff member who asked for a test: marked as one in its subject and
    both parts, its manage and unsubscribe links opening a page that says they do nothing."""

    def __init__(self, digest: Digest, topic_ids: frozenset[int], test_by: str) -> None:
        self.test_by = test_by
        super().__init__(digest, topic_ids)

    def links(self, recipient: Recipient) -> tuple[str, str]:
        return (
            links.external_url("preferences.test_copy_link", link="manage"),
            links.external_url("preferences.test_copy_link", link="unsubscribe"),
        )


def _fill(body: str, manage: str, unsubscribe: str, address: str) -> str:
    return body.replace(MANAGE, manage).replace(UNSUBSCRIBE, unsubscribe).replace(ADDRESS, address)


class _Part:
    """One MIME part, quoted-printable: the lines before the first personal one encoded once.

    Quoted-printable encodes line by line, so the shared head and the personalised tail can be
    encoded apart and joined.
    """

    def __init__(self, body: str, boundary: str, kind: str) -> None:
        found = [body.find(mark) for mark in (MANAGE, UNSUBSCRIBE, ADDRESS) if mark in body]
        cut = body.rfind("\n", 0, min(found)) + 1 if found else len(body)
        self.head = (
            f'--{boundary}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode() + binascii.b2a_qp(body[:cut].encode(), istext=True)
        self.tail = body[cut:]

    def encoded(self, manage: str, unsubscribe: str, address: str) -> bytes:
        tail = _fill(self.tail, manage, unsubscribe, address)
        return self.head + binascii.b2a_qp(tail.encode(), istext=True)


SIGNED_HEADERS = [
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
]


def dkim_signer() -> Callable[[bytes], bytes] | None:
    """A function that DKIM-signs message bytes, when a key is configured."""
    key_file = current_app.config["DKIM_PRIVATE_KEY_FILE"]
    if not key_file:
        return None
    key = Path(key_file).read_bytes()
    selector = current_app.config["DKIM_SELECTOR"].encode()
    domain = (current_app.config["DKIM_DOMAIN"] or message_domain()).encode()

    def sign(message: bytes) -> bytes:
        return dkim.sign(message, selector, domain, key, include_headers=SIGNED_HEADERS) + message

    return sign
