"""The schema comes only from migrations, and they build exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import Migrate

from updates.extensions import db


def test_there_is_one_migration_head(app):
    config = Migrate(app, db).get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_from_empty_produces_exactly_the_models(app):
    # The session database was built by `db upgrade` from empty (see conftest.database_url).
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []
