"""What each kind of transactional email says, composed from its outbox row."""

from __future__ import annotations

from email.message import EmailMessage

from . import links
from .emails import build_message, render_email, tagged_message_id
from .models import EmailKind, OutboundEmail
from .topics import topics_by_ids


def compose(email: OutboundEmail) -> EmailMessage:
    subscriber = email.subscriber
    request = email.signup_request
    context: dict[str, object] = {"manage_url": links.manage_url(subscriber)}
    if request is not None:
        context["topics"] = topics_by_ids(request.topic_ids)
        context["confirm_url"] = links.confirm_url(request)
    if email.kind == EmailKind.CONFIRM:
        rendered = render_email("confirm", **context)
    elif email.kind == EmailKind.ALREADY_SUBSCRIBED:
        context["followed"] = [s.topic for s in subscriber.subscriptions]
        rendered = render_email("already_subscribed", **context)
    elif email.kind == EmailKind.WELCOME:
        context["followed"] = [s.topic for s in subscriber.subscriptions]
        context["unsubscribe_url"] = links.unsubscribe_url(subscriber)
        rendered = render_email("welcome", **context)
    elif email.kind == EmailKind.MANAGE_LINK:
        rendered = render_email("manage_link", **context)
    else:
        raise ValueError(f"unknown email kind {email.kind!r}")
    message_id = tagged_message_id(f"email-{email.id}")  # the same for every attempt
    message = build_message(rendered, to=subscriber.email or "", message_id=message_id)
    if email.kind == EmailKind.WELCOME:
        topic_ids = [s.topic_id for s in subscriber.subscriptions]
        for name, value in links.list_unsubscribe_headers(subscriber, topic_ids).items():
            message[name] = value
    return message
