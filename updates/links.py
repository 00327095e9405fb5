"""Absolute links for emails: always under BASE_URL, with or without a request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app

from . import tokens
from .models import SignupRequest, Subscriber


def external_url(endpoint: str, **values: Any) -> str:
    """BASE_URL + the endpoint's path, whether or not a request is being handled."""
    adapter = current_app.extensions.get("updates.url_adapter")
    if adapter is None:  # one per app: newsletters build two links per recipient
        adapter = current_app.extensions["updates.url_adapter"] = current_app.url_map.bind("x")
    return current_app.config["BASE_URL"] + adapter.build(endpoint, values)


def confirm_url(request: SignupRequest) -> str:
    token = tokens.make_token(tokens.CONFIRM, request.id)
    return external_url("public.confirm", token=token)


def manage_token(subscriber: Subscriber) -> str:
    return tokens.make_token(tokens.MANAGE, [subscriber.id, subscriber.token_version])


def manage_url(subscriber: Subscriber) -> str:
    return manage_url_for(subscriber.id, subscriber.token_version)


def manage_url_for(subscriber_id: int, token_version: int) -> str:
    token = tokens.make_token(tokens.MANAGE, [subscriber_id, token_version])
    return external_url("preferences.manage", token=token)


def unsubscribe_token(subscriber: Subscriber, topic_ids: Iterable[int] | None = None) -> str:
    """Never expires, dies with the token version, names the topics to leave (None: all)."""
    return _unsubscribe_token(subscriber.id, subscriber.token_version, topic_ids)


def _unsubscribe_token(
    subscriber_id: int, token_version: int, topic_ids: Iterable[int] | None
) -> str:
    topics = None if topic_ids is None else sorted(topic_ids)
    return tokens.make_token(tokens.UNSUBSCRIBE, [subscriber_id, token_version, topics])


def unsubscribe_url(subscriber: Subscriber, topic_ids: Iterable[int] | None = None) -> str:
    return unsubscribe_url_for(subscriber.id, subscriber.token_version, topic_ids)


def unsubscribe_url_for(
    subscriber_id: int, token_version: int, topic_ids: Iterable[int] | None
) -> str:
    token = _unsubscribe_token(subscriber_id, token_version, topic_ids)
    return external_url("preferences.unsubscribe", token=token)


def list_unsubscribe_headers(subscriber: Subscriber, topic_ids: Iterable[int]) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers taking this subscriber off these topics in one click."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscriber, topic_ids)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
