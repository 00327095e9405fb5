"""Settings for gunicorn, the production web server: its logs never carry a link's token or an
address, come as JSON lines when LOG_FORMAT is json, and its workers share one set of metrics.

gunicorn -c python:updates.gunicorn_conf "updates:create_app()"
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

from gunicorn.glogging import Logger

from updates.config import log_settings
from updates.logs import JsonFormatter, scrub
from updates.redaction import REDACTED, RedactTokens

# Request headers that are credentials whole: shown, if a log format asks for them, as [redacted].
SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{x-csrftoken}i")
# What a JSON access line holds, from gunicorn's atoms.
ACCESS_FIELDS = {
    "remote": "h",
    "method": "m",
    "path": "U",
    "query": "q",
    "status": "s",
    "bytes": "B",
    "referer": "f",
    "user_agent": "a",
    "request_id": "{x-request-id}o",
}


class AccessJsonFormatter(logging.Formatter):
    """One JSON object for each request gunicorn answered, with the app's request id."""

    def format(self, record: logging.LogRecord) -> str:
        atoms = record.args if isinstance(record.args, dict) else {}
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        line.update({name: atoms.get(atom, "-") for name, atom in ACCESS_FIELDS.items()})
        line["duration_seconds"] = int(atoms.get("D", 0) or 0) / 1_000_000
        return json.dumps(line, default=str)


class TokenSafeLogger(Logger):
    """gunicorn's logger, with tokens and addresses taken out of the access and error logs."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.error_log.addFilter(RedactTokens())
        if log_settings(os.environ)[0] == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())
            for handler in self.access_log.handlers:
                handler.setFormatter(AccessJsonFormatter())

    def atoms(self, resp, req, environ, request_time) -> dict[str, object]:
        atoms = super().atoms(resp, req, environ, request_time)
        safe = {
            key: scrub(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
        for key in SECRET_HEADERS:
            if key in safe:
                safe[key] = REDACTED
        return safe


def child_exit(server, worker) -> None:
    """A worker that exits leaves its metrics files behind to be added up, but is no longer live."""
    from prometheus_client import multiprocess

    from updates.instruments import multiprocess_mode

    if multiprocess_mode():
        multiprocess.mark_process_dead(worker.pid)


logger_class = TokenSafeLogger
