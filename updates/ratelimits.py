"""Rate limits on the routes that send email: per visitor IP, and per recipient address."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import abort, current_app, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from redis import Redis
from redis.exceptions import RedisError

from updates.addresses import address_key
from updates.extensions import limiter
from updates.instruments import RATE_LIMITED, count_signup

log = logging.getLogger(__name__)

IP_SCOPE = "signup-ip"
ADDRESS_SCOPE = "mail-address"
REDIS_RETRY_SECONDS = 5  # after Redis fails, count in memory this long before trying it again


def _recipient_key() -> str:
    """Whom an email would go to, hashed: for a link's own form, whom its token names (a field
    the client adds cannot pick another key); for any other form, the address typed.

    address_key gives every spelling of one address one key (full-width, Unicode or punycode
    domain, any case), as the form's normalisation gives them one subscriber.
    """
    token = (request.view_args or {}).get("token")
    if token is not None:
        # A token's first part is its payload: every link naming one person shares it.
        subject = "token:" + str(token).lstrip(".").partition(".")[0]
    else:
        subject = address_key(str(request.form.get("email", "")))
    return hashlib.sha256(subject.encode()).hexdigest()


per_ip_signup_limit = limiter.shared_limit(
    lambda: current_app.config["SIGNUP_LIMIT_PER_IP"], scope=IP_SCOPE, methods=["POST"]
)
per_address_mail_limit = limiter.shared_limit(
    lambda: current_app.config["SIGNUP_LIMIT_PER_ADDRESS"],
    scope=ADDRESS_SCOPE,
    key_func=_recipient_key,
    methods=["POST"],
)

# Flask-Limiter's fixed window, for several counters at once: each counts one hit and starts
# its window on the first; the first counter over its limit stops the rest (as Flask-Limiter
# stops at the first breach). ARGV holds each key's limit and window, in pairs.
HIT_ALL = """
for i, key in ipairs(KEYS) do
    local count = redis.call("INCR", key)
    if count == 1 then
        redis.call("EXPIRE", key, ARGV[2 * i])
    end
    if count > tonumber(ARGV[2 * i - 1]) then
        return 0
    end
end
return 1
"""

Counter = tuple[RateLimitItem, str, str]  # a limit, the key it counts for, its scope
F = TypeVar("F", bound=Callable[..., Any])


def signup_limits(view: F) -> F:
    """per_ip_signup_limit and per_address_mail_limit in one Redis round trip, for the busiest
    route; the counters are the very ones those decorators keep, so every route shares them."""

    @wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        enabled = current_app.config.get("RATELIMIT_ENABLED", True)
        if request.method == "POST" and enabled and not _hit_all(_signup_counters()):
            count_signup(RATE_LIMITED)
            abort(429)
        return view(*args, **kwargs)

    return limited  # type: ignore[return-value]


def _signup_counters() -> list[Counter]:
    """Every limit of both settings with the key it counts for, shortest window first."""
    config = current_app.config
    per_ip = [
        (item, get_remote_address(), IP_SCOPE) for item in _parsed(config["SIGNUP_LIMIT_PER_IP"])
    ]
    per_address = [
        (item, _recipient_key(), ADDRESS_SCOPE)
        for item in _parsed(config["SIGNUP_LIMIT_PER_ADDRESS"])
    ]
    return sorted(per_ip + per_address, key=lambda counter: counter[0].get_expiry())


@lru_cache(maxsize=16)
def _parsed(setting: str) -> list[RateLimitItem]:
    return parse_many(setting)


class _Counters:
    """The app's Redis for the counters, and the in-memory fallback while Redis is down."""

    def __init__(self) -> None:
        config = current_app.config
        self.redis = Redis.from_url(
            config["RATELIMIT_STORAGE_URI"], **config.get("RATELIMIT_STORAGE_OPTIONS", {})
        )
        self.hit_all = self.redis.register_script(HIT_ALL)
        self.fallback = FixedWindowRateLimiter(MemoryStorage())
        self.redis_down_until = 0.0


def _hit_all(counters: list[Counter]) -> bool:
    """Count this request against every counter; False if one is over its limit."""
    state = current_app.extensions.get("updates.rate_counters")
    if state is None:
        state = current_app.extensions["updates.rate_counters"] = _Counters()
    if time.monotonic() >= state.redis_down_until:
        # Flask-Limiter's keys, with the prefix its Redis storage adds
        keys = [f"LIMITS:{item.key_for(key, scope)}" for item, key, scope in counters]
        windows = [value for item, _, _ in counters for value in (item.amount, item.get_expiry())]
        try:
            return bool(state.hit_all(keys=keys, args=windows))
        except RedisError as error:
            log.warning("rate limits counted in memory for a while: Redis failed (%s)", error)
            state.redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
    return all(state.fallback.hit(item, key, scope) for item, key, scope in counters)
