"""Absolute links for emails: always under BASE_URL, with or without a request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app
from werkzeug.routing import MapAdapter

from updates import tokens
from updates.models import SignupRequest, Subscriber

_TOKEN = "--token--"


def _adapter() -> MapAdapter:
    adapter = current_app.extensions.get("updates.url_adapter")
    if adapter is None:  # one per app: newsletters build two links per recipient
        adapter = current_app.extensions["updates.url_adapter"] = current_app.url_map.bind("x")
    return adapter


def external_url(endpoint: str, **values: Any) -> str:
    """BASE_URL + the endpoint's path, whether or not a request is being handled."""
    return current_app.config["BASE_URL"] + _adapter().build(endpoint, values)


def _token_url(endpoint: str, token: str) -> str:
    """external_url(endpoint, token=token), with the path's shape worked out once per app.

    Tokens are URL-safe (letters, digits, "-", "_", "."), so they go in as they are.
    """
    shapes = current_app.extensions.setdefault("updates.token_paths", {})
    shape = shapes.get(endpoint)
    if shape is None:
        shape = shapes[endpoint] = _adapter().build(endpoint, {"token": _TOKEN}).split(_TOKEN)
    return current_app.config["BASE_URL"] + shape[0] + token + shape[1]


def confirm_url(request: SignupRequest) -> str:
    """Names the request and the token version, so revoking every link (or erasure) kills it."""
    token = tokens.make_token(tokens.CONFIRM, [request.id, request.subscriber.token_version])
    return _token_url("public.confirm", token)


def manage_token(subscriber: Subscriber) -> str:
    return tokens.make_token(tokens.MANAGE, [subscriber.id, subscriber.token_version])


def manage_url(subscriber: Subscriber) -> str:
    return manage_url_for(subscriber.id, subscriber.token_version)


def manage_url_for(subscriber_id: int, token_version: int) -> str:
    token = tokens.make_token(tokens.MANAGE, [subscriber_id, token_version])
    return _token_url("preferences.manage", token)


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
    return _token_url("preferences.unsubscribe", token)


def list_unsubscribe_headers(subscriber: Subscriber, topic_ids: Iterable[int]) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers taking this subscriber off these topics in one click."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscriber, topic_ids)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
