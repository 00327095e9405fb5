"""The suppression list keeps an erased address only as a keyed hash (HMAC under
SUPPRESSION_KEY): a copy of the database alone cannot tell whether a guessed address is on it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from tests.factories import create_subscriber
from updates import create_app
from updates.addresses import address_hash
from updates.config import ConfigError, load_config
from updates.extensions import db
from updates.models import Suppression
from updates.subscribers.consent import Evidence
from updates.subscribers.preferences import erase
from updates.subscribers.suppression import is_suppressed, suppressed_among

ADDRESS = "Gone.Reader@Example.org"


def plain_sha256(address: str) -> str:
    """What the list held before it was keyed, and what anyone can compute from a guess."""
    return hashlib.sha256(address.lower().encode()).hexdigest()


def test_an_erased_address_leaves_no_hash_that_a_guess_can_be_checked_against(app, topics):
    erase(create_subscriber(ADDRESS, ["events"]), Evidence(source="test"))
    [row] = db.session.scalars(select(Suppression)).all()
    assert row.email is None
    assert row.email_hash != plain_sha256(ADDRESS)
    assert row.email_hash == address_hash(ADDRESS.upper())  # still the same address to us
    assert is_suppressed(ADDRESS.lower())
    assert suppressed_among([ADDRESS, "other@example.org"]) == {ADDRESS}


def test_the_hash_depends_on_the_key(app_config: dict[str, object]):
    hashes = set()
    for key in ("one-suppression-key", "another-suppression-key"):
        with create_app({**app_config, "SUPPRESSION_KEY": key}).app_context():
            hashes.add(address_hash(ADDRESS))
    assert len(hashes) == 2


def test_the_migration_keys_the_plain_hashes_already_on_the_list(tmp_path: Path):
    before = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}"})
    with before.app_context():
        upgrade(revision="0007")  # the schema as the previous release left it
        db.session.execute(
            Suppression.__table__.insert().values(
                email_hash=plain_sha256(ADDRESS), email=None, reason="erased"
            )
        )
        db.session.commit()
        upgrade()
        assert db.session.scalar(select(Suppression.email_hash)) != plain_sha256(ADDRESS)
        assert is_suppressed(ADDRESS)
        db.session.remove()
        db.engine.dispose()


def test_production_keys_the_list_by_its_own_key_or_else_one_drawn_from_the_signing_key(
    tmp_path: Path,
):
    env = {"UPDATES_ENV": "production", "REDIS_URL": "redis://x", "SECRET_KEY": "k" * 40}
    drawn = load_config(tmp_path, env)["SUPPRESSION_KEY"]
    assert drawn not in ("", "k" * 40)
    assert load_config(tmp_path, env)["SUPPRESSION_KEY"] == drawn  # the same on every host
    assert not (tmp_path / "suppression_key").exists()
    with pytest.raises(ConfigError, match="must not be one of the SECRET_KEY"):
        load_config(tmp_path, {**env, "SUPPRESSION_KEY": "k" * 40})
    assert load_config(tmp_path, {**env, "SUPPRESSION_KEY": "s" * 40})["SUPPRESSION_KEY"] == (
        "s" * 40
    )


def test_development_generates_a_suppression_key_once_and_keeps_it(tmp_path: Path):
    first = load_config(tmp_path, {"UPDATES_ENV": "development"})["SUPPRESSION_KEY"]
    assert load_config(tmp_path, {"UPDATES_ENV": "development"})["SUPPRESSION_KEY"] == first
    assert first != load_config(tmp_path, {"UPDATES_ENV": "development"})["SECRET_KEY"]
    assert len(str(first)) >= 32
    assert (tmp_path / "suppression_key").stat().st_mode & 0o077 == 0
