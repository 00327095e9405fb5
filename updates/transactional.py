"""What each kind of transactional email says, composed from its outbox row."""

from __future__ import annotations

from email.message import EmailMessage

from . import links
from .emails import build_message, render_email
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
    else:
        raise ValueError(f"unknown email kind {email.kind!r}")
    return build_message(rendered, to=subscriber.email or "")
