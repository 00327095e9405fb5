"""Fixtures of the web tests: staff and what they look after."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import PASSWORD
from updates.extensions import db
from updates.models import Suppression
from updates.staff.accounts import add_staff


@pytest.fixture
def people(app: Flask) -> dict[str, int]:
    """An admin and an editor, topics lps and care, a reader of lps, a draft digest and a
    suppression; returns the ids the console's routes take."""
    add_staff("admin@example.org", "admin", PASSWORD)
    add_staff("editor@example.org", "editor", PASSWORD)
    create_topics("lps", "care")
    subscriber = create_subscriber("reader@example.org", ["lps"])
    update = create_news("Budgets", ["lps"])
    digest = create_test_digest([update], ["lps"])
    suppression = Suppression(email_hash="0" * 64, email="old@example.org", reason="manual")
    db.session.add(suppression)
    db.session.commit()
    return {
        "subscriber": subscriber.id,
        "digest": digest.id,
        "suppression": suppression.id,
        "update": update.id,
    }


@pytest.fixture
def many_sign_ins(app_config: dict[str, object]) -> None:
    """A sign-in limit no test that signs in again and again will reach."""
    app_config["LOGIN_LIMIT_PER_IP"] = "1000/minute"
