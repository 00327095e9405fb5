"""Transactions: blocks nest into the outermost, which alone commits; work after the commit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

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
