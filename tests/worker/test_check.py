"""`python worker.py --check`: a container's health check on the real database and Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from updates import ROOT
from updates.dev.embedded_redis import EmbeddedRedis


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis()
    server.start()
    yield server
    server.stop()


def check(database_url: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "UPDATES_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_exits_0_while_the_database_and_redis_answer(database_url, own_redis):
    answered = check(database_url, own_redis.url)
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["status"] == "ok"


def test_check_exits_1_naming_redis_once_redis_is_stopped(database_url, own_redis):
    own_redis.stop()
    answered = check(database_url, own_redis.url)
    assert answered.returncode == 1
    assert json.loads(answered.stdout)["failed"] == ["redis"]


def test_check_exits_1_naming_the_database_when_it_cannot_be_reached(own_redis, tmp_path):
    answered = check(f"sqlite:///{tmp_path / 'missing' / 'updates.db'}", own_redis.url)
    assert answered.returncode == 1
    assert json.loads(answered.stdout)["failed"] == ["database"]
