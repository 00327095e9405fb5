"""What each kind of transactional email says, composed from its outbox row."""

from __future__ import annotations

from email.message import EmailMessage

from updates import links
from updates.mail.messages import build_message, render_email, tagged_message_id
from updates.models import EmailKind, OutboundEmail, Topic


def compose(email: OutboundEmail, requested: list[Topic]) -> EmailMessage:
    """The email this row owes; `requested` are the topics of its sign-up request, if any."""
    subscriber = email.subscriber
    request = email.signup_request
    context: dict[str, object] = {"manage_url": links.manage_url(subscriber)}
    if request is not None:
        context["topics"] = requested
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
