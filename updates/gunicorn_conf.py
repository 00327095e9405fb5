"""Settings for gunicorn, the production web server; its logs never carry a link's token.

gunicorn -c python:updates.gunicorn_conf --access-logfile - "updates:create_app()"
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from updates.redaction import REDACTED, RedactTokens, redact

# Request headers that are credentials whole: shown, if a log format asks for them, as [redacted].
SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{x-csrftoken}i")


class TokenSafeLogger(Logger):
    """gunicorn's logger, with tokens taken out of the access log and the error log."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.error_log.addFilter(RedactTokens())

    def atoms(self, resp, req, environ, request_time) -> dict[str, object]:
        atoms = super().atoms(resp, req, environ, request_time)
        safe = {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }
        for key in SECRET_HEADERS:
            if key in safe:
                safe[key] = REDACTED
        return safe


logger_class = TokenSafeLogger
