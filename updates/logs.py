"""Logs: one JSON object a line in production (text in development), with the ids that tie
lines together, and never an address or a link's token.

Ids ride in a context variable: a request binds its request id (X-Request-ID, or a new one);
a job queued during the request carries it in its meta, and the worker binds it again, with the
job's id, while the job runs; the delivery engine adds the digest and batch ids. Every line
logged meanwhile, by our code or a library's, carries them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, Response, request
from flask.logging import default_handler

from updates.redaction import redact

REQUEST_ID = "request_id"
REQUEST_ID_HEADER = "X-Request-ID"
FIELDS = (REQUEST_ID, "job_id", "digest_id", "batch_id")
ADDRESS = "[address]"
# Anything shaped like an address, in any text (a relay's refusal quotes the recipient), and
# percent-encoded in a query string too.
_PART = r"[^\s<>\"'(),;:@\[\]=&?/%]+"
_ADDRESS = re.compile(rf"{_PART}(?:@|%40){_PART}\.{_PART}", re.IGNORECASE)
_GIVEN_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")  # a proxy's request id, if it looks like one

_bound: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar("updates.logs")


def scrub(text: str) -> str:
    """The text without link tokens or addresses."""
    return _ADDRESS.sub(ADDRESS, redact(text))


def fields() -> dict[str, object]:
    """The ids bound to what is running now."""
    return _bound.get({})


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Every line logged inside the block carries these ids (None values are left out)."""
    token = _bound.set({**fields(), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def job_meta() -> dict[str, object]:
    """What a job queued now should carry into the worker: the request id, if any."""
    request_id = fields().get(REQUEST_ID)
    return {REQUEST_ID: request_id} if request_id else {}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the bound ids, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        line.update(_ids(record))
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """A line a person reads, the bound ids at its end."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{key}={value}" for key, value in _ids(record).items())
        return scrub(f"{text} [{ids}]" if ids else text)


def _ids(record: logging.LogRecord) -> dict[str, object]:
    """The ids bound where the record is formatted (its own thread), or given it in `extra`."""
    found = dict(fields())
    for key in FIELDS:
        if key in record.__dict__:
            found[key] = record.__dict__[key]
    return found


class QuietPeriodic(logging.Filter):
    """RQ's lines about periodic jobs (ids `periodic-…`, or the jobs' names) and its registry
    cleaning go to DEBUG: every worker runs several a minute, and they would bury what matters."""

    def __init__(self, jobs: Iterable[str] = ()) -> None:
        super().__init__()
        self.jobs = ("periodic-", *jobs)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        chatter = any(str(arg).startswith(self.jobs) for arg in args) or "cleaning" in str(
            record.msg
        )
        if not chatter or record.levelno != logging.INFO:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def make_handler(stream: IO[str] | None = None, log_format: str = "json") -> logging.Handler:
    """A handler that writes lines in the given format, with the ids bound when each was made."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.updates_handler = True  # type: ignore[attr-defined]
    return handler


def configure(
    log_format: str, level: str, stream: IO[str] | None = None, quiet_jobs: Iterable[str] = ()
) -> None:
    """Send every logger's lines through one handler on the root logger (once per process);
    RQ's lines about `quiet_jobs` (the periodic ones) go to DEBUG."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "updates_handler", False)]:
        root.removeHandler(old)
    root.addHandler(make_handler(stream, log_format))
    root.setLevel(level)
    rq_log = logging.getLogger("rq.worker")
    for old in [f for f in rq_log.filters if isinstance(f, QuietPeriodic)]:
        rq_log.removeFilter(old)
    rq_log.addFilter(QuietPeriodic(quiet_jobs))


def _bind_request() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex
    request.environ["updates.log_token"] = _bound.set({REQUEST_ID: request_id})


def _answer_with_id(response: Response) -> Response:
    request_id = fields().get(REQUEST_ID)
    if request_id:
        response.headers[REQUEST_ID_HEADER] = str(request_id)
    return response


def _unbind_request(error: BaseException | None = None) -> None:
    token = request.environ.pop("updates.log_token", None)
    if token is not None:
        with suppress(ValueError):  # a server that ran the request across contexts
            _bound.reset(token)


def register(app: Flask) -> None:
    """Give every request an id, answered in X-Request-ID; outside tests, set up the logs."""
    app.before_request_funcs.setdefault(None, []).insert(0, _bind_request)
    app.after_request(_answer_with_id)
    app.teardown_request(_unbind_request)
    if not app.testing:
        configure(str(app.config["LOG_FORMAT"]), str(app.config["LOG_LEVEL"]))
        # Flask gave its logger a plain stderr handler if the root had none yet: the app's
        # lines go through the root's handler alone.
        app.logger.removeHandler(default_handler)
