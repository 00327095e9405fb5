"""Absolute links for emails: always under BASE_URL, with or without a request."""

from __future__ import annotations

from typing import Any

from flask import current_app

from . import tokens
from .models import SignupRequest, Subscriber


def external_url(endpoint: str, **values: Any) -> str:
    adapter = current_app.url_map.bind("localhost")
    return current_app.config["BASE_URL"] + adapter.build(endpoint, values)


def confirm_url(request: SignupRequest) -> str:
    token = tokens.make_token(tokens.CONFIRM, request.id)
    return external_url("public.confirm", token=token)


def manage_token(subscriber: Subscriber) -> str:
    return tokens.make_token(tokens.MANAGE, [subscriber.id, subscriber.token_version])


def manage_url(subscriber: Subscriber) -> str:
    return external_url("preferences.manage", token=manage_token(subscriber))
