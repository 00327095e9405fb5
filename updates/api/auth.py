"""Bearer-token authentication for the API, the roles it obeys, and its audit trail."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from updates.staff.accounts import staff_for_token
from updates.staff.audit import record_action
from updates.transaction import in_transaction

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


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """As token_required, and 403, having done nothing, unless the token is an admin's:
    the API obeys the roles the console does."""

    @wraps(view)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        if not g.staff.is_admin:
            raise Forbidden("Only an admin may do this.")
        return view(*args, **kwargs)

    return token_required(checked)


def audit(action: str, detail: str = "") -> None:
    """Record the call in the audit log, under the token's owner, in the open transaction that
    holds the change itself."""
    if not in_transaction():
        raise RuntimeError("audit() belongs inside the `with transaction():` of its change")
    record_action(g.staff.id, action, f"{detail} (API)" if detail else "(API)")
