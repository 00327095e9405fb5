"""Rate limits on the routes that send email: per visitor IP, and per recipient address."""

from __future__ import annotations

import hashlib

from flask import current_app, request

from .addresses import address_key
from .extensions import limiter


def _recipient_key() -> str:
    """The address an email would go to, hashed; for a link's own form, the link's token."""
    address = request.form.get("email")
    if address is None:
        address = (request.view_args or {}).get("token", "")
    return hashlib.sha256(address_key(str(address)).encode()).hexdigest()


per_ip_signup_limit = limiter.shared_limit(
    lambda: current_app.config["SIGNUP_LIMIT_PER_IP"], scope="signup-ip", methods=["POST"]
)
per_address_mail_limit = limiter.shared_limit(
    lambda: current_app.config["SIGNUP_LIMIT_PER_ADDRESS"],
    scope="mail-address",
    key_func=_recipient_key,
    methods=["POST"],
)
