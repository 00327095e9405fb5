"""updates: topic-based programme updates by email."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from updates.config import load_config
from updates.extensions import csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict[str, object] | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, CLI, error handlers."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(load_config(Path(app.instance_path)))
    app.config.update(overrides or {})

    db.init_app(app)
    with app.app_context():
        _adapt_to_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    if app.config["TRUSTED_PROXIES"]:
        count = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    from updates import (
        api,
        console,
        edge,
        errors,
        headers,
        instruments,
        logs,
        monitoring,
        preferences,
        public,
        redaction,
        webhooks,
    )

    app.register_blueprint(public.blueprint)
    app.register_blueprint(preferences.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(console.blueprint)
    app.register_blueprint(monitoring.blueprint)
    if app.config["UPDATES_ENV"] == "development":
        from updates.dev import mailbox

        app.register_blueprint(mailbox.blueprint)
    errors.register(app)
    edge.register(app)
    headers.register(app)
    redaction.register(app)
    instruments.register(app)
    logs.register(app)  # last, so that its request id is bound before any other hook runs

    from updates.cli import register_commands

    register_commands(app)
    return app


def _adapt_to_sqlite(engine: Engine) -> None:
    """SQLite only, on the app's own engine: what each connection needs, before it connects."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "savepoint", _sqlite_savepoint_inside_a_transaction)


def _sqlite_pragmas(connection, record) -> None:
    """Enforce foreign keys (cascading erasure) and let web and worker share the file."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_savepoint_inside_a_transaction(connection, name) -> None:
    """Open the transaction before a first SAVEPOINT. Python's sqlite3 begins one only before a
    write, and SQLite commits a RELEASE that has no transaction around it: the rows of a
    savepoint would land even if the rest of the transaction then rolled back."""
    dbapi_connection = connection.connection.dbapi_connection
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN")
