"""Bearer-token authentication for the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from updates.staff.accounts import staff_for_token

P = ParamSpec("P")
R = TypeVar("R")


def bearer_token() -> str:
    """The token from `Authorization: Bearer TOKEN`, or an empty string."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def token_required(view: Callable[P, R]) -> Callable[P, R]:
    """Answer 401, having done nothing, unless the request carries a live staff token."""

    @wraps(view)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        staff = staff_for_token(bearer_token())
        if staff is None:
            raise Unauthorized(
                "A valid API token is required, sent as 'Authorization: Bearer TOKEN'.",
                www_authenticate=WWWAuthenticate("bearer"),
            )
        g.staff = staff
        return view(*args, **kwargs)

    return checked
