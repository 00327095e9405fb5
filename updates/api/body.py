"""Reading JSON request bodies: a 400 with a clear message for anything malformed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import request
from werkzeug.exceptions import BadRequest

from updates import limits

T = TypeVar("T")
REQUIRED: Any = object()
KIND_NAMES = {
    str: "a string",
    bool: "true or false",
    list: "a list",
    int: "a whole number",
    dict: "an object",
}


def json_body(optional: bool = False) -> dict[str, Any]:
    """The request's JSON object; `optional` lets an empty body stand for `{}`."""
    if optional and not request.get_data(cache=True).strip():
        return {}
    try:
        # Any content type is read as JSON: `curl -d` without a header should work too.
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # nested too deep for the parser
        body = None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    if not storable(body):
        raise BadRequest("Text must be valid Unicode without NUL characters.")
    return body


def storable(value: object) -> bool:
    """No NUL or lone surrogate in any string: neither database can store them."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return False
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
    return True


def known_fields(body: dict[str, Any], *names: str) -> dict[str, Any]:
    """The body, if it names only these fields and at least one of them; else a 400."""
    unknown = sorted(str(name) for name in body if name not in names)
    if unknown:
        raise BadRequest(f"unknown field: {', '.join(unknown)}")
    if not any(body.get(name) is not None for name in names):
        raise BadRequest(f"give at least one of {', '.join(names)}")
    return body


def optional_text(body: dict[str, Any], name: str, limit: int) -> str | None:
    """A string field of at most `limit` characters, or None when it is absent or null."""
    return text(body, name, limit) if body.get(name) is not None else None


def field(body: dict[str, Any], name: str, kind: type[T], default: T = REQUIRED) -> T:
    """body[name] if it is of this kind; absent or null takes the default, if there is one."""
    value = body.get(name)
    if value is None:
        if default is REQUIRED:
            raise BadRequest(f"{name} is required")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"{name} must be {KIND_NAMES[kind]}")
    return value


def text(body: dict[str, Any], name: str, limit: int, default: str = REQUIRED) -> str:
    """A string field of at most `limit` characters."""
    value = field(body, name, str, default)
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    return value


def ids(body: dict[str, Any], name: str) -> list[int]:
    """A list of row ids: whole numbers that fit the database's integer columns."""
    values = field(body, name, list)
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v <= limits.MAX_ID for v in values
    ):
        raise BadRequest(f"{name} must be a list of ids")
    return values


def moment(body: dict[str, Any], name: str) -> datetime | None:
    """An ISO 8601 date and time, in UTC; one without an offset is taken as UTC already."""
    value = field(body, name, str, "")
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise BadRequest(
            f"{name} must be an ISO 8601 date and time, such as 2030-01-31T09:00:00+00:00"
        ) from None
