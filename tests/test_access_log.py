"""Logs never hold the token a link carries: gunicorn's access log and the app's own log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.factories import create_subscriber
from updates import ROOT
from updates.dev.embedded_redis import free_port
from updates.links import manage_token, unsubscribe_token


@pytest.fixture
def gunicorn(app_config, app, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real gunicorn serving the app with the package's settings; yields its URL and log."""
    port = free_port()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "UPDATES_ENV": "test",
        "DATABASE_URL": str(app_config["SQLALCHEMY_DATABASE_URI"]),
        "REDIS_URL": str(app_config["REDIS_URL"]),
        "BASE_URL": f"http://127.0.0.1:{port}",
    }
    # Every request header and the referer too: a format an operator might choose.
    log_format = '%(h)s "%(r)s" %(s)s "%(f)s" "%(U)s" "%(q)s" "%({authorization}i)s"'
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "python:updates.gunicorn_conf"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1"),
            *("--access-logfile", str(access_log), "--access-logformat", log_format),
            *("--error-logfile", str(tmp_path / "error.log")),
            "updates:create_app()",
        ],
        env=env,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url)
        yield url, access_log
    finally:
        server.terminate()
        server.wait(timeout=30)


STARTUP_PROBE = "startup-probe"  # the query the fixture's own requests carry


def _wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 90  # several workers importing the app on a busy machine
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/?{STARTUP_PROBE}", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def _request(url: str, data: bytes | None = None, **headers: str) -> None:
    with suppress(urllib.error.HTTPError):  # a 4xx is logged like any answer
        urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10)


@pytest.mark.slow
def test_gunicorns_access_log_names_the_pages_but_never_a_links_token(gunicorn, topics):
    url, access_log = gunicorn
    person = create_subscriber("reader@example.org", ["events"])
    manage, unsubscribe = manage_token(person), unsubscribe_token(person)
    _request(f"{url}/manage/{manage}", Referer=f"{url}/manage/{manage}/data")
    _request(f"{url}/manage/{manage}/data?from={manage}")
    _request(f"{url}/unsubscribe/{unsubscribe}", data=b"List-Unsubscribe=One-Click")
    _request(f"{url}/confirm/not-a-real-token/renew", data=b"")
    _request(f"{url}/api/topics", Authorization="Bearer secret-api-token")
    _request(f"{url}/")

    deadline = time.monotonic() + 10  # the access log is written after each answer
    while len(_test_lines(access_log)) < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = _test_lines(access_log)
    assert len(lines) == 6
    log = "\n".join(lines)
    for secret in (manage, unsubscribe, "not-a-real-token", "secret-api-token"):
        assert secret not in log
    assert '"GET /manage/[redacted] HTTP/1.1" 200' in log
    assert '"POST /unsubscribe/[redacted] HTTP/1.1"' in log
    assert '"POST /confirm/[redacted]/renew HTTP/1.1"' in log
    assert f'"{url}/manage/[redacted]/data"' in log  # the referer
    assert '"from=[redacted]"' in log
    assert '"GET / HTTP/1.1" 200' in log


def _test_lines(access_log: Path) -> list[str]:
    """The log's lines but for the fixture's start-up probes, however late they are written."""
    return [line for line in access_log.read_text().splitlines() if STARTUP_PROBE not in line]


def test_the_apps_own_log_and_the_development_servers_redact_a_token_in_a_path(app):
    for logger in (app.logger, logging.getLogger("werkzeug")):
        record = logger.makeRecord(
            logger.name,
            logging.ERROR,
            __file__,
            1,
            "Exception on %s [%s]",
            ("/manage/a.b/erase", "POST"),
            None,
        )
        assert logger.filter(record)
        assert record.getMessage() == "Exception on /manage/[redacted]/erase [POST]"
        record = logger.makeRecord(
            logger.name,
            logging.INFO,
            __file__,
            1,
            '"GET /unsubscribe/WzEsMV0.aw1XNg.M6Pfk4iS5FMK7kBZpJxbUevHqas HTTP/1.1" 200',
            (),
            None,
        )
        assert logger.filter(record)
        assert record.getMessage() == '"GET /unsubscribe/[redacted] HTTP/1.1" 200'
