"""Operator commands: topics and the demo data."""

from __future__ import annotations

from sqlalchemy import func, select

from updates.extensions import db
from updates.models import Topic, Update


def test_topics_add_then_list(app):
    runner = app.test_cli_runner()
    added = runner.invoke(
        args=[
            "topics",
            "add",
            "social-care",
            "Social Care Working Group",
            "--description",
            "Research and guidance.",
        ]
    )
    assert added.exit_code == 0, added.output
    hidden = runner.invoke(args=["topics", "add", "board", "Board papers", "--hidden"])
    assert hidden.exit_code == 0, hidden.output
    listed = runner.invoke(args=["topics", "list"])
    assert listed.output.splitlines() == [
        "social-care\tpublic\tSocial Care Working Group",
        "board\thidden\tBoard papers",
    ]
    topic = db.session.scalar(select(Topic).where(Topic.slug == "social-care"))
    assert topic.description == "Research and guidance."


def test_topics_add_refuses_a_bad_or_taken_slug(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["topics", "add", "events", "Events"]).exit_code == 0
    taken = runner.invoke(args=["topics", "add", "events", "Events again"])
    assert taken.exit_code != 0
    assert "already exists" in taken.output
    bad = runner.invoke(args=["topics", "add", "Bad Slug!", "Name"])
    assert bad.exit_code != 0
    assert "slug" in bad.output
    assert db.session.scalars(select(Topic.slug)).all() == ["events"]


def test_demo_loads_the_sample_topics_and_updates_once(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(Update)) == 4
    names = db.session.scalars(select(Topic.name).order_by(Topic.position)).all()
    assert names == [
        "Local Public Services",
        "Social Care Working Group",
        "Innovators Network",
        "Events and Summits",
    ]
