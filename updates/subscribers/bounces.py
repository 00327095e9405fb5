"""Bounces and complaints: read what the relay forwards, suppress the address, fail the row.

Three shapes are read: RFC 3464 delivery status notifications, ARF (RFC 5965) complaints, and
anything else through flufl.bounce's heuristics. Which digest and subscriber a report is about
comes from a VERP return path (signed, so it holds even when the report is unreadable) or else
from our Message-ID in the returned message.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures
from sqlalchemy import select, update

from updates import tokens
from updates.extensions import db
from updates.mail.messages import message_domain
from updates.mail.verp import read_verp
from updates.models import Delivery, DeliveryStatus, OutboundEmail, Subscriber, SuppressionReason
from updates.subscribers.soft_bounces import record_soft_bounce
from updates.subscribers.suppression import suppress
from updates.transaction import autocommit

log = logging.getLogger(__name__)

# RFC 3463's "other or undefined" statuses, for reports that name no status of their own.
UNDEFINED_PERMANENT = "5.0.0"
UNDEFINED_TEMPORARY = "4.0.0"
# A newsletter's (digest-D.S) or a transactional email's (email-N), tagged by emails.py.
OUR_MESSAGE_ID = re.compile(r"<(digest-(\d+)\.(\d+)|email-(\d+))\.([0-9a-f]{16})@([^>\s]+)>")
STATUS = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
QUOTED_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
ENVELOPE_HEADERS = ("X-Original-To", "Delivered-To", "Envelope-To", "To")
SENDER_HEADERS = ("From", "Sender", "Return-Path", "Received")


class NotAnEmail(ValueError):
    """The body is not an RFC 822 message."""


@dataclass(frozen=True)
class Failure:
    address: str
    status: str


@dataclass
class BounceReport:
    """What one message reported, and whose delivery it was about, if we can tell."""

    hard: list[Failure] = field(default_factory=list)
    soft: list[Failure] = field(default_factory=list)
    complaints: list[str] = field(default_factory=list)
    digest_id: int | None = None
    subscriber_id: int | None = None
    subscriber_email: str | None = None


# -- reading -------------------------------------------------------------------------------


def parse_message(raw: bytes) -> Message:
    """The message, or NotAnEmail when the bytes are not one."""
    if not raw.strip():
        raise NotAnEmail("The body is empty: send the raw message.")
    message = email.message_from_bytes(raw)
    if not any(message.get(name) for name in SENDER_HEADERS):
        raise NotAnEmail("The body is not an email message: send it raw, headers first.")
    return message


def read(raw: bytes, envelope_to: str | None = None) -> BounceReport:
    """Read one forwarded message: who bounced (hard or soft), who complained, and whose mail."""
    message = parse_message(raw)
    report = BounceReport()
    report_type = ""
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "")).lower()
    if report_type == "delivery-status":
        _read_dsn(message, report)
    abuse = report_type == "feedback-report" and _read_arf(message, report)
    if report_type != "feedback-report" and not (report.hard or report.soft):
        _read_heuristically(message, report)
    by_verp = _identify(message, envelope_to, report)
    own = report.subscriber_email
    if own and abuse and not report.complaints:
        report.complaints.append(own)  # the reporter redacted the address; our Message-ID didn't
    unread = report_type != "feedback-report" and not (report.hard or report.soft)
    if own and by_verp and unread and not _auto_reply(message):
        report.hard.append(Failure(own, UNDEFINED_PERMANENT))  # mail to the return path bounced
    return report


def _read_dsn(message: Message, report: BounceReport) -> None:
    for part in _parts_of_type(message, "message/delivery-status"):
        for block in _field_blocks(part):
            address = _recipient(block)
            if not address:
                continue  # the per-message block
            action = str(block.get("Action", "")).strip().lower()
            found = STATUS.search(str(block.get("Status", "")))
            status = found.group(0) if found else ""
            if action.startswith("failed") and not status.startswith("4"):
                report.hard.append(Failure(address, status or UNDEFINED_PERMANENT))
            elif action.startswith(("failed", "delayed")):
                report.soft.append(Failure(address, status or UNDEFINED_TEMPORARY))


def _read_arf(message: Message, report: BounceReport) -> bool:
    """Record the complained address; True if the report is an abuse complaint."""
    for part in _parts_of_type(message, "message/feedback-report"):
        fields = _field_blocks(part)
        if not fields or str(fields[0].get("Feedback-Type", "")).strip().lower() != "abuse":
            continue
        rcpt_to = fields[0].get_all("Original-Rcpt-To", [])
        returned = _returned_headers(message)
        if not rcpt_to and returned is not None:
            rcpt_to = returned.get_all("To", [])
        report.complaints.extend(a for _, a in getaddresses([str(v) for v in rcpt_to]) if "@" in a)
        return True
    return False


def _read_heuristically(message: Message, report: BounceReport) -> None:
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a third-party heuristic failing on odd input is no reason to answer 500
        log.warning("flufl.bounce could not read a message", exc_info=True)
        return
    permanent = {_text(a) for a in permanent if "@" in _text(a)}
    report.hard += [Failure(a, UNDEFINED_PERMANENT) for a in sorted(permanent)]
    temporary = {_text(a) for a in temporary if "@" in _text(a)} - permanent
    report.soft += [Failure(a, UNDEFINED_TEMPORARY) for a in sorted(temporary)]


def _identify(message: Message, envelope_to: str | None, report: BounceReport) -> bool:
    """Find whose delivery this was; True if a VERP address said so."""
    candidates = [envelope_to or ""]
    for name in ENVELOPE_HEADERS:
        candidates += [a for _, a in getaddresses([str(v) for v in message.get_all(name, [])])]
    found = next(filter(None, map(read_verp, candidates)), None)
    by_verp = found is not None
    found = found or _our_message_id(message)
    if found:
        report.digest_id, report.subscriber_id = found
        report.subscriber_email = db.session.scalar(
            select(Subscriber.email).where(Subscriber.id == report.subscriber_id)
        )
    return by_verp


def _our_message_id(message: Message) -> tuple[int | None, int] | None:
    """(digest id or None, subscriber id) from a Message-ID of ours that the report quotes."""
    return next(filter(None, map(owner_of_message_id, _returned_message_ids(message))), None)


def owner_of_message_id(candidate: str) -> tuple[int | None, int] | None:
    """(digest id or None, subscriber id) if this is one of our tagged Message-IDs, else None."""
    candidate = candidate.strip()
    if not candidate.startswith("<"):
        candidate = f"<{candidate}>"  # some providers quote Message-IDs without their brackets
    match = OUR_MESSAGE_ID.fullmatch(candidate)
    if not match or match.group(6).lower() != message_domain().lower():
        return None
    local, digest_id, subscriber_id, email_id, tag = match.group(1, 2, 3, 4, 5)
    if not tokens.tag_matches(tokens.MESSAGE_ID, local, tag):
        return None
    if email_id is None:
        return int(digest_id), int(subscriber_id)
    owner = db.session.scalar(
        select(OutboundEmail.subscriber_id).where(OutboundEmail.id == int(email_id))
    )
    return None if owner is None else (None, owner)


def _returned_message_ids(message: Message) -> Iterator[str]:
    returned = _returned_headers(message)
    if returned is not None and returned.get("Message-ID"):
        yield str(returned["Message-ID"])
    # Bounces that are not reports (Exim's, qmail's) quote the returned message as text.
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            yield from QUOTED_MESSAGE_ID.findall(_decoded(part))


def _returned_headers(message: Message) -> Message | None:
    """The headers of the message that bounced, from a message/rfc822 or text/rfc822-headers."""
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and part.is_multipart():
            return part.get_payload(0)
        if kind == "text/rfc822-headers":
            return HeaderParser().parsestr(_decoded(part))
    return None


def _auto_reply(message: Message) -> bool:
    """An out-of-office reply sent to the return path is not a bounce."""
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return True
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    from_daemon = sender.startswith(("mailer-daemon@", "postmaster@"))
    replied = str(message.get("Auto-Submitted", "")).strip().lower().startswith("auto-replied")
    return replied and bool(sender) and not from_daemon


def _parts_of_type(message: Message, content_type: str) -> Iterator[Message]:
    return (part for part in message.walk() if part.get_content_type() == content_type)


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    return [HeaderParser().parsestr(block) for block in re.split(r"\n\s*\n", _decoded(part))]


def _recipient(block: Message) -> str:
    """Original-Recipient (the address we sent to) if given, else Final-Recipient."""
    for name in ("Original-Recipient", "Final-Recipient"):
        value = str(block.get(name, ""))
        address = parseaddr(value.partition(";")[2] if ";" in value else value)[1]
        if "@" in address:
            return address
    return ""


def _decoded(part: Message) -> str:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data.decode(part.get_content_charset() or "utf-8", errors="replace")
    return str(part.get_payload())


def _text(address: bytes | str) -> str:
    return address.decode(errors="replace") if isinstance(address, bytes) else address


# -- applying ------------------------------------------------------------------------------


def _apply(report: BounceReport) -> None:
    """Suppress the subscriber a report is about, and only if we can tell who that is.

    Anyone can send the bounce mailbox a report naming any address, so one that neither a VERP
    address nor a tagged Message-ID ties to a delivery of ours changes nothing. We send each
    message to one recipient, so a report about one of our messages is about its subscriber's
    address, even when it names another (a forward that failed). Soft bounces count towards
    suppression (soft_bounces.py).
    """
    own = report.subscriber_email
    if own is None:
        return
    if report.hard:
        suppress(own, SuppressionReason.BOUNCE)
        if report.digest_id and report.subscriber_id:
            fail_delivery(report.digest_id, report.subscriber_id, report.hard[0].status)
    elif report.soft and report.subscriber_id:
        record_soft_bounce(report.subscriber_id, own)
    if report.complaints:
        suppress(own, SuppressionReason.COMPLAINT)


def fail_delivery(digest_id: int, subscriber_id: int, status: str) -> None:
    """Mark the delivery failed by a bounce, if it is still pending or sent; the caller commits."""
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.digest_id == digest_id,
            Delivery.subscriber_id == subscriber_id,
            Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENT]),
        )
        .values(status=DeliveryStatus.FAILED, last_error=f"bounced: {status}")
    )


@autocommit
def process(raw: bytes, envelope_to: str | None = None) -> BounceReport:
    """Read one forwarded message and act on it: suppress, fail the delivery; commit."""
    report = read(raw, envelope_to)
    _apply(report)
    log.info(
        "bounce report: %s hard, %s soft, %s complaints",
        len(report.hard),
        len(report.soft),
        len(report.complaints),
        extra={"digest_id": report.digest_id, "subscriber_id": report.subscriber_id},
    )
    return report
