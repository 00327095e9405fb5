"""Emails are template pairs, emails/<name>.txt and emails/<name>.html, rendered by one helper."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, parseaddr

from flask import current_app, render_template

from updates import tokens
from updates.addresses import ascii_domain


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(name: str, **context: object) -> RenderedEmail:
    """Render emails/<name>.txt and .html; the text template sets `subject`."""
    env = current_app.jinja_env
    context = {
        "org_name": current_app.config["ORG_NAME"],
        "org_address": current_app.config["ORG_ADDRESS"],
        **context,
    }
    text_template = env.get_template(f"emails/{name}.txt")
    module = text_template.make_module(context)
    subject = " ".join(str(getattr(module, "subject", "")).split())
    return RenderedEmail(
        subject=subject,
        text=str(module).strip() + "\n",
        html=render_template(f"emails/{name}.html", subject=subject, **context),
    )


def message_domain() -> str:
    """MAIL_FROM's domain, in ASCII: the right-hand side of our Message-IDs."""
    address = ascii_domain(parseaddr(current_app.config["MAIL_FROM"])[1])
    return address.rpartition("@")[2] or "localhost"


def tagged_message_id(local: str, domain: str | None = None) -> str:
    """`<local.TAG@domain>`: the tag proves that a bounce quoting it is about a message we sent,
    so nobody can forge a bounce that has an address suppressed."""
    return f"<{local}.{tokens.tag(tokens.MESSAGE_ID, local)}@{domain or message_domain()}>"


def build_message(rendered: RenderedEmail, to: str, message_id: str | None = None) -> EmailMessage:
    """A multipart/alternative message with the service's standard headers."""
    message = EmailMessage()
    message["From"] = header_address(current_app.config["MAIL_FROM"])
    message["To"] = header_address(to)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@{message_domain()}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def header_address(value: str) -> Address | str:
    """An address for From or To, its domain in ASCII, its display name kept.

    A domain may not be written as an RFC 2047 encoded word, which is what the email package
    makes of a non-ASCII one; punycode is how it is written in a header.
    """
    name, address = parseaddr(value)
    if not address or "@" not in address:
        return value
    local, _, domain = ascii_domain(address).rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def message_bytes(message: EmailMessage) -> bytes:
    """The wire form: CRLF line endings, as SMTP requires.

    Headers are UTF-8 (RFC 6532) only when an address has an international local part: the
    relay then carries the message with SMTPUTF8, which allows them; otherwise they are ASCII.
    """
    addresses = [a for name in ("From", "To") if message[name] for a in message[name].addresses]
    international = any(not address.username.isascii() for address in addresses)
    return message.as_bytes(policy=SMTPUTF8 if international else SMTP)
