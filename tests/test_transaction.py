"""Transactions: blocks nest into the outermost, which alone commits; work after the commit."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text

from updates.extensions import db
from updates.models import Topic
from updates.news.topics import add_topic
from updates.transaction import after_commit, in_transaction, transaction


class Refused(Exception):
    pass


def stored_slugs() -> list[str]:
    db.session.remove()
    return list(db.session.scalars(select(Topic.slug).order_by(Topic.slug)))


def test_a_committing_function_inside_a_block_commits_only_with_the_block(app):
    with pytest.raises(Refused), transaction():
        add_topic("events", "Events")  # commits on its own when called alone
        assert in_transaction()
        raise Refused
    assert not in_transaction()
    assert stored_slugs() == []


def test_a_function_inside_a_block_sees_its_rows_flushed_with_ids(app):
    with transaction():
        topic = add_topic("events", "Events")
        assert topic.id is not None
    assert stored_slugs() == ["events"]


def test_work_after_the_commit_runs_once_the_rows_are_stored(app):
    seen: list[list[str]] = []
    with transaction():
        add_topic("events", "Events")
        after_commit(lambda: seen.append(stored_slugs()))
        assert seen == []
    assert seen == [["events"]]


def test_work_after_a_commit_that_never_happens_never_runs(app):
    seen: list[str] = []
    with pytest.raises(Refused), transaction():
        after_commit(lambda: seen.append("ran"))
        raise Refused
    with transaction():
        pass
    assert seen == []


def test_work_after_the_commit_needs_a_transaction(app):
    with pytest.raises(RuntimeError):
        after_commit(lambda: None)


def test_a_savepoints_rows_go_with_the_transaction_around_it(app):
    """SQLite commits a RELEASE with no transaction around it; the app's engine opens one."""
    with pytest.raises(Refused), transaction():
        with db.session.begin_nested():
            db.session.add(Topic(slug="saved", name="Saved"))
        raise Refused
    assert stored_slugs() == []


def test_the_apps_sqlite_connections_keep_foreign_keys_and_no_other_engines_are_touched(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the settings are SQLite's")
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    with create_engine("sqlite://").connect() as other:
        assert other.execute(text("PRAGMA foreign_keys")).scalar() == 0
