"""Staff accounts and API tokens: the operator's commands and what they store."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from tests.helpers import PASSWORD
from updates import ROOT
from updates.extensions import db
from updates.models import ApiToken, StaffUser, utcnow
from updates.staff.accounts import StaffError, add_staff, create_api_token, staff_for_token


def staff_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StaffUser))


def only_staff() -> StaffUser:
    db.session.expire_all()
    return db.session.scalars(select(StaffUser)).one()


def test_staff_add_takes_the_password_from_updates_password_and_stores_only_its_hash(app):
    result = app.test_cli_runner().invoke(
        args=["staff", "add", "Ada@Example.org", "--role", "admin"],
        env={"UPDATES_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    assert result.output == "added admin ada@example.org\n"
    staff = only_staff()
    assert (staff.email, staff.role, staff.active) == ("ada@example.org", "admin", True)
    assert PASSWORD not in staff.password_hash
    assert staff.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(staff.password_hash, PASSWORD)


def test_staff_add_without_the_variable_asks_for_the_password_twice_unseen(app):
    result = app.test_cli_runner().invoke(
        args=["staff", "add", "editor@example.org", "--role", "editor"],
        env={"UPDATES_PASSWORD": None},
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "Repeat for confirmation" in result.output
    assert PasswordHasher().verify(only_staff().password_hash, PASSWORD)


def test_staff_add_refuses_an_unknown_role(app):
    result = app.test_cli_runner().invoke(
        args=["staff", "add", "ada@example.org", "--role", "owner"],
        env={"UPDATES_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert "'admin'" in result.output and "'editor'" in result.output
    assert staff_count() == 0


def test_staff_add_refuses_the_same_address_twice_in_any_case(app):
    runner = app.test_cli_runner()
    env = {"UPDATES_PASSWORD": PASSWORD}
    first = runner.invoke(args=["staff", "add", "ada@example.org", "--role", "admin"], env=env)
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["staff", "add", "ADA@example.ORG", "--role", "editor"], env=env)
    assert again.exit_code == 1
    assert "Error: a staff account for ada@example.org already exists" in again.output
    assert only_staff().role == "admin"


@pytest.mark.parametrize(
    ("address", "password", "message"),
    [
        ("not an address", PASSWORD, "valid email address"),
        ("ada@example.org", "short", "password must be 12 to 1024 characters"),
    ],
)
def test_staff_add_refuses_a_bad_address_or_a_short_password(app, address, password, message):
    result = app.test_cli_runner().invoke(
        args=["staff", "add", address, "--role", "editor"], env={"UPDATES_PASSWORD": password}
    )
    assert result.exit_code == 1
    assert message in result.output
    assert staff_count() == 0


def test_api_token_create_prints_the_token_on_one_line_and_stores_only_its_hash(app):
    add_staff("ada@example.org", "editor", PASSWORD)
    result = app.test_cli_runner().invoke(args=["api-token", "create", "Ada@example.org"])
    assert result.exit_code == 0, result.output
    assert result.output == result.stdout
    [token] = result.stdout.splitlines()
    assert result.stdout == token + "\n"
    assert len(token) >= 43 and token.isascii() and " " not in token
    stored = db.session.scalars(select(ApiToken)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.staff.email == "ada@example.org"


@pytest.mark.slow  # runs the command in a real process
def test_api_token_create_in_a_real_shell_prints_one_line_and_nothing_on_stderr(app, app_config):
    add_staff("ada@example.org", "admin", PASSWORD)
    env = {
        **os.environ,
        "UPDATES_ENV": "test",
        "DATABASE_URL": str(app_config["SQLALCHEMY_DATABASE_URI"]),
        "REDIS_URL": str(app_config["REDIS_URL"]),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "updates",
            "api-token",
            "create",
            "ada@example.org",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    [token] = done.stdout.splitlines()
    assert staff_for_token(token).email == "ada@example.org"


def test_api_token_create_refuses_an_unknown_or_inactive_account(app):
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["api-token", "create", "nobody@example.org"])
    assert unknown.exit_code == 1
    assert "no active staff account for nobody@example.org" in unknown.output
    staff = add_staff("gone@example.org", "editor", PASSWORD)
    staff.active = False
    db.session.commit()
    assert runner.invoke(args=["api-token", "create", "gone@example.org"]).exit_code == 1
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_a_token_names_its_staff_until_revoked_or_the_account_is_deactivated(app):
    staff = add_staff("ada@example.org", "editor", PASSWORD)
    token = create_api_token("ada@example.org")
    assert staff_for_token(token) is staff
    assert staff_for_token(token + "x") is None
    assert staff_for_token("") is None
    assert staff_for_token("x" * 10_000) is None

    staff.active = False
    db.session.commit()
    assert staff_for_token(token) is None
    staff.active = True
    db.session.scalars(select(ApiToken)).one().revoked_at = utcnow()
    db.session.commit()
    assert staff_for_token(token) is None
    assert staff_for_token(create_api_token("ada@example.org")) is staff


def test_a_token_records_its_last_use_at_most_once_a_minute(app):
    add_staff("ada@example.org", "editor", PASSWORD)
    token = create_api_token("ada@example.org")

    def last_used():
        db.session.expire_all()
        return db.session.scalars(select(ApiToken)).one().last_used_at

    assert last_used() is None
    staff_for_token(token)
    first = last_used()
    assert first is not None
    staff_for_token(token)
    assert last_used() == first

    row = db.session.scalars(select(ApiToken)).one()
    row.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    staff_for_token(token)
    assert last_used() >= first


def test_add_staff_refuses_an_unknown_role_in_the_domain_too(app):
    with pytest.raises(StaffError, match="role must be one of admin, editor"):
        add_staff("ada@example.org", "owner", PASSWORD)
    assert staff_count() == 0
