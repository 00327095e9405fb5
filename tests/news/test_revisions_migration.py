"""Migration 0011 gives every update its first revision and pins the digests already sending."""

from __future__ import annotations

from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import select, text

from updates import create_app
from updates.extensions import db
from updates.models import DigestUpdate, UpdateRevision

ROWS = """
INSERT INTO topics (id, slug, name, description, public, archived, position, created_at)
  VALUES (1, 'lps', 'LPS', '', true, false, 0, '2026-11-01 09:00');
INSERT INTO updates (id, title, body_markdown, body_html, published_at, created_at)
  VALUES (1, 'Budgets', 'Up **2%**', '<p>Up <strong>2%</strong></p>', '2026-11-01 09:00',
          '2026-11-01 09:00');
INSERT INTO update_topics (update_id, topic_id) VALUES (1, 1);
INSERT INTO digests (id, subject, intro_markdown, intro_html, kind, status, started_at, created_at)
  VALUES (1, 'Sent', '', '', 'digest', 'sent', '2026-11-02 09:00', '2026-11-02 08:00'),
         (2, 'Draft', '', '', 'digest', 'draft', NULL, '2026-11-02 08:00');
INSERT INTO digest_updates (digest_id, update_id, position) VALUES (1, 1, 0), (2, 1, 0);
"""


def test_each_update_gets_its_first_revision_and_started_digests_are_pinned(tmp_path: Path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}"})
    with app.app_context():
        upgrade(revision="0008")  # the schema as the previous release left it
        for statement in ROWS.strip().split(";")[:-1]:
            db.session.execute(text(statement))
        db.session.commit()
        upgrade()

        [revision] = db.session.scalars(select(UpdateRevision)).all()
        assert (revision.update_id, revision.title, revision.topic_ids) == (1, "Budgets", [1])
        assert revision.body_html == "<p>Up <strong>2%</strong></p>"
        rows = db.session.execute(select(DigestUpdate.digest_id, DigestUpdate.revision_id))
        pinned = {digest_id: revision_id for digest_id, revision_id in rows}
        assert pinned == {1: revision.id, 2: None}
