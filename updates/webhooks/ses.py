"""Amazon SES's bounce, complaint and delivery notifications, as SNS posts them.

Only topics named in SES_SNS_TOPIC_ARNS are heard, and only messages SNS signed (sns.verify).
A subscription to one of them is confirmed by visiting its SubscribeURL when
SES_SNS_AUTO_CONFIRM is on; otherwise, or if that visit fails, the log names the topic and the
operator confirms it in the AWS console.
"""

from __future__ import annotations

import json
import logging

from flask import Response, abort, current_app, jsonify, request

from updates.subscribers.provider_events import COMPLAINT, DELIVERED, HARD, SOFT, ProviderEvent
from updates.webhooks import apply_once, blueprint, error, sns

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 512 * 1024  # SNS messages are at most 256 KB, and come wrapped


@blueprint.post("/ses")
def receive_ses() -> Response:
    """One SNS message: a subscription to confirm, or an SES notification."""
    topics = current_app.config.get("SES_SNS_TOPIC_ARNS", ())
    if not topics:
        abort(404)
    request.max_content_length = MAX_BODY_BYTES
    try:
        message = json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return error(400, "The body is not an SNS message (JSON).")
    if not isinstance(message, dict):
        return error(400, "The body is not an SNS message (JSON).")
    if message.get("TopicArn") not in topics:
        return error(403, "This service does not subscribe to that topic.")
    try:
        sns.verify(message)
    except sns.Refused as refused:
        return error(403, str(refused))
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        return _confirm(message)
    if kind != "Notification":
        return jsonify(events=0, ours=0)
    try:
        events = ses_events(json.loads(message["Message"]))
    except (ValueError, RecursionError, LookupError, TypeError, AttributeError):
        return error(400, "The notification is not an SES event.")
    return apply_once(f"sns:{message['MessageId']}", events)


def _confirm(message: dict) -> Response:
    try:
        url = sns.aws_url(message["SubscribeURL"])
    except sns.Refused as refused:
        return error(400, str(refused))
    if current_app.config.get("SES_SNS_AUTO_CONFIRM") and sns.confirm(url):
        log.info("confirmed the SNS subscription to %s", message["TopicArn"])
        return jsonify(confirmed=True)
    log.warning(
        "the SNS subscription to %s awaits confirmation: confirm it in the AWS console",
        message["TopicArn"],
    )
    return jsonify(confirmed=False)


def ses_events(notification: dict) -> list[ProviderEvent]:
    """The events in one SES notification (an SNS notification or an event-publishing one)."""
    kind = notification.get("notificationType") or notification.get("eventType")
    message_ids = _message_ids(notification.get("mail") or {})
    if kind == "Bounce":
        bounce = notification["bounce"]
        # Undetermined: SES could not tell; counted as soft rather than suppressing on a guess.
        hard = bounce.get("bounceType") == "Permanent"
        return [
            ProviderEvent(
                HARD if hard else SOFT,
                str(r["emailAddress"]),
                message_ids,
                str(r.get("status") or ""),
            )
            for r in bounce.get("bouncedRecipients", [])
        ]
    if kind == "Complaint":
        complaint = notification["complaint"]
        if complaint.get("complaintFeedbackType") == "not-spam":
            return []
        return [
            ProviderEvent(COMPLAINT, str(r["emailAddress"]), message_ids)
            for r in complaint.get("complainedRecipients", [])
        ]
    if kind == "Delivery":
        return [
            ProviderEvent(DELIVERED, str(address), message_ids)
            for address in notification["delivery"].get("recipients", [])
        ]
    return []


def _message_ids(mail: dict) -> tuple[str, ...]:
    """Our Message-ID as SES quotes it: in commonHeaders, or among the original headers."""
    found = [str((mail.get("commonHeaders") or {}).get("messageId", ""))]
    found += [
        str(header.get("value", ""))
        for header in mail.get("headers") or []
        if str(header.get("name", "")).lower() == "message-id"
    ]
    return tuple(filter(None, found))
