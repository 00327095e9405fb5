"""The edge of the app: text that no page, table or feed can hold is refused before any view.

Every path, query parameter, form field, uploaded file name and JSON string must be valid
UTF-8 with no NUL, no lone surrogate, no control character and nothing XML cannot carry (the
Atom feed); a tab or line break only in a field that forms draw as a text area. Anything else
is a 400 that names the field and changes nothing. HEAD is answered as GET, without the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Request, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest
from wtforms import Form, TextAreaField
from wtforms.fields.core import UnboundField

# What neither database, nor XML 1.0, nor a person's screen can use: NUL and the C0 and C1
# controls (but tab, CR and LF), DEL, lone surrogates, and U+FFFE and U+FFFF.
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
LINE_BREAKS = re.compile("[\t\n\r]")
# Bodies that are not forms: the API reads JSON (checked as it is parsed), the bounce webhook
# a raw email. Their views read the body themselves, under their own size limits.
NOT_FORMS = frozenset({"api", "webhooks"})
JSON_PREFIXES = ("/api/", "/webhooks/")
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class BadText(BadRequest):
    """Input that is not text the service can keep; its description says which and why."""


def problem(text: str, multiline: bool = False) -> str | None:
    """What is wrong with this text, or None if the service can store and show it."""
    found = NOT_TEXT.search(text) or (None if multiline else LINE_BREAKS.search(text))
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "holds a NUL character"
    if "\ud800" <= char <= "\udfff":
        return "is not valid Unicode"
    if char in "\t\n\r":
        return "must be one line"
    return f"holds a control character (U+{ord(char):04X})"


def without_xml_errors(text: str) -> str:
    """The text without the characters XML cannot carry, for data stored before this check."""
    return NOT_TEXT.sub("", text)


@cache
def multiline_fields() -> frozenset[str]:
    """The names of the fields that some form draws as a text area: only these hold lines."""
    names: set[str] = set()
    pending: list[type] = [Form]
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        for name, value in vars(form).items():
            if isinstance(value, UnboundField) and issubclass(value.field_class, TextAreaField):
                names.add(name)
    return frozenset(names)


def _refuse(where: str, what: str) -> BadText:
    if what == "must be one line":
        rule = "Only a box of several lines may hold a tab or line break."
    else:
        rule = "Text must be valid Unicode, with no NUL or control characters."
    return BadText(f"{where} {what}. {rule} Nothing was changed.")


def _named(kind: str, name: str) -> str:
    return f"The {kind} “{name}”" if problem(name) is None and len(name) <= 100 else f"A {kind}"


def check_pairs(kind: str, pairs: Iterable[tuple[str | None, str]]) -> None:
    """Raise BadText for the first name or value that is not text; lines only in text areas."""
    multiline = multiline_fields()
    for name, value in pairs:
        name = name or ""  # a multipart part may have no name
        what = problem(name)
        if what is not None:
            raise _refuse(f"A {kind} name", what)
        what = problem(value, multiline=name in multiline)
        if what is not None:
            raise _refuse(_named(kind, name), what)


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Each string in a JSON value, with the key of the object it sits in."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, dict):
        for name, item in value.items():
            yield "", name
            yield from _strings(item, name)


def _utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(where, "is not valid UTF-8") from None


def _pairs(query: bytes, kind: str) -> list[tuple[str, str]]:
    """`a=1&b=2` as pairs; BadText for bytes or escapes that are not UTF-8."""
    try:
        return parse_qsl(_utf8(query, f"A {kind}"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise _refuse(f"A {kind}", "is not valid UTF-8") from None


class CheckedRequest(Request):
    """A request whose form fields and JSON are checked as they are read."""

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        urlencoded = self.mimetype == "application/x-www-form-urlencoded"
        try:
            if urlencoded:  # read strictly: Werkzeug keeps an escape that is not UTF-8 as text
                check_pairs("field", _pairs(self.get_data(cache=True), "field"))
            super()._load_form_data()
            if not urlencoded:
                check_pairs("field", self.form.items(multi=True))
                for name, upload in self.files.items(multi=True):
                    check_pairs("file", [(name, upload.filename or "")])
        except BadText:
            self.form = self.parameter_storage_class()
            self.files = ImmutableMultiDict()
            raise

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        value = super().get_json(force=force, silent=silent, cache=cache)
        check_pairs("JSON field", _strings(value))
        return value


def check_request() -> None:
    """Refuse a request whose path, query or form is not text, before anything reads them."""
    path = request.environ.get("PATH_INFO", "")  # the bytes as sent, before Werkzeug's decoding
    what = problem(_utf8(path.encode("latin-1", "replace"), "The web address"))
    if what is not None:
        raise _refuse("The web address", what)
    check_pairs("query parameter", _pairs(request.query_string, "query parameter"))
    if _form_to_read_now():
        _ = request.form  # checked as it is parsed: before CSRF and rate limits read it


def _form_to_read_now() -> bool:
    """Whether the body is a form of a size any view accepts: a larger upload is read, and
    checked, by its own view once it has raised the limit (the import of subscribers)."""
    if request.blueprint in NOT_FORMS or request.mimetype not in FORMS:
        return False
    length, limit = request.content_length, request.max_content_length
    return length is not None and (limit is None or length <= limit)


def answers_json() -> bool:
    """Whether the request's errors are answered as JSON: the API's and the webhook's."""
    return request.path.startswith(JSON_PREFIXES) or request.path == "/api"


class HeadAsGet:
    """HEAD is GET without the body (RFC 9110): views see a GET, so every page answers both."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "HEAD":
            return self.wsgi_app(environ, start_response)
        environ["REQUEST_METHOD"] = "GET"
        body = self.wsgi_app(environ, start_response)
        if hasattr(body, "close"):
            body.close()
        return []


def register(app: Flask) -> None:
    app.request_class = CheckedRequest
    # First of all: CSRF and the rate limits read the form, and must only ever see text.
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
    app.wsgi_app = HeadAsGet(app.wsgi_app)  # type: ignore[method-assign]
