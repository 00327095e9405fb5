"""Configuration comes from the environment and refuses what cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from updates import tokens
from updates.config import ConfigError, helo_name, load_config


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path):
    env = {"UPDATES_ENV": "production", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(tmp_path, env)


def test_production_requires_redis(tmp_path: Path):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_config(tmp_path, {"UPDATES_ENV": "production", "SECRET_KEY": "k"})


def test_development_generates_a_secret_key_once_and_keeps_it(tmp_path: Path):
    first = load_config(tmp_path, {"UPDATES_ENV": "development"})["SECRET_KEY"]
    second = load_config(tmp_path, {"UPDATES_ENV": "development"})["SECRET_KEY"]
    assert first == second
    assert len(str(first)) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_defaults_match_the_documented_interface(tmp_path: Path):
    config = load_config(tmp_path, {"UPDATES_ENV": "development"})
    assert config["BASE_URL"] == "http://localhost:5000"
    assert config["MAIL_FROM"] == "Updates <updates@localhost>"
    assert (config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TLS"]) == (
        "localhost",
        25,
        "none",
    )
    assert config["SEND_RATE"] == 0
    assert (config["SMTP_TIMEOUT"], config["SMTP_CONNECT_TIMEOUT"]) == (30.0, 5.0)
    assert config["CHECK_EMAIL_DNS"] is False
    assert str(config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite:///")
    assert config["TIMEZONE"] == "Europe/London"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "GMT+5", "../../etc/passwd", "Europe/"])
def test_an_unknown_time_zone_fails_loudly_at_start_up(tmp_path: Path, zone: str):
    with pytest.raises(ConfigError, match="TIMEZONE must be an IANA time zone"):
        load_config(tmp_path, {"TIMEZONE": zone})
    assert load_config(tmp_path, {"TIMEZONE": "America/New_York"})["TIMEZONE"] == "America/New_York"


def test_postgresql_urls_use_the_installed_driver(tmp_path: Path):
    env = {"DATABASE_URL": "postgresql://u@db/updates"}
    assert load_config(tmp_path, env)["SQLALCHEMY_DATABASE_URI"] == (
        "postgresql+psycopg://u@db/updates"
    )


@pytest.mark.parametrize("name", ["UPDATES_ENV", "SMTP_TLS", "SMTP_PORT", "SEND_RATE"])
def test_a_nonsense_setting_is_refused(tmp_path: Path, name: str):
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, {name: "banana"})


@pytest.mark.parametrize("name", ["SMTP_TIMEOUT", "SMTP_CONNECT_TIMEOUT"])
@pytest.mark.parametrize("seconds", ["0", "-1", "86400", "nan"])
def test_a_relay_timeout_must_be_some_seconds_up_to_an_hour(tmp_path, name, seconds):
    with pytest.raises(ConfigError, match=name):
        load_config(tmp_path, {name: seconds})
    assert load_config(tmp_path, {name: "0.5"})[name] == 0.5


def test_links_signed_with_a_retired_key_still_work_after_rotation(app):
    app.config["SECRET_KEYS"] = ["old-key"]
    with app.app_context():
        token = tokens.make_token(tokens.MANAGE, [1, 1])
        app.config["SECRET_KEYS"] = ["new-key", "old-key"]
        assert tokens.read_token(tokens.MANAGE, token) == [1, 1]
        assert tokens.make_token(tokens.MANAGE, [1, 1]) != token
        app.config["SECRET_KEYS"] = ["new-key"]
        with pytest.raises(tokens.InvalidToken):
            tokens.read_token(tokens.MANAGE, token)


def test_a_token_for_one_purpose_is_refused_for_another(app):
    with app.app_context():
        token = tokens.make_token(tokens.CONFIRM, 7)
        with pytest.raises(tokens.InvalidToken):
            tokens.read_token(tokens.UNSUBSCRIBE, token)


def test_passwords_are_hashed_at_argons_recommended_cost_outside_the_tests(tmp_path: Path):
    production = {"UPDATES_ENV": "production", "SECRET_KEY": "k" * 40, "REDIS_URL": "redis://x"}
    assert load_config(tmp_path, production)["PASSWORD_HASHING"] == "recommended"
    assert load_config(tmp_path, {"UPDATES_ENV": "development"})["PASSWORD_HASHING"] == (
        "recommended"
    )
    assert load_config(tmp_path, {"UPDATES_ENV": "test"})["PASSWORD_HASHING"] == "cheapest"


@pytest.mark.parametrize(
    ("env", "greeting"),
    [
        ({}, "localhost"),
        ({"BASE_URL": "https://updates.example.org"}, "updates.example.org"),
        ({"BASE_URL": "https://bücher.example"}, "xn--bcher-kva.example"),
        ({"BASE_URL": "http://127.0.0.1:5000"}, "[127.0.0.1]"),
        ({"BASE_URL": "http://[::1]:5000"}, "[IPv6:::1]"),
        ({"SMTP_HELO_NAME": "mx1.example.org"}, "mx1.example.org"),
    ],
)
def test_the_relay_is_greeted_with_a_host_name_or_an_address_literal(tmp_path, env, greeting):
    config = load_config(tmp_path, env)
    assert helo_name(config["SMTP_HELO_NAME"], config["BASE_URL"]) == greeting


@pytest.mark.parametrize("name", ["bad name", "a\r\nMAIL FROM:<x>", "-lead.example", "a..b"])
def test_a_greeting_that_is_no_host_name_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="SMTP_HELO_NAME"):
        load_config(tmp_path, {"SMTP_HELO_NAME": name})


def test_logs_are_json_in_production_and_text_elsewhere(tmp_path: Path):
    production = {"UPDATES_ENV": "production", "SECRET_KEY": "k", "REDIS_URL": "redis://r"}
    assert load_config(tmp_path, production)["LOG_FORMAT"] == "json"
    assert load_config(tmp_path, {"UPDATES_ENV": "development"})["LOG_FORMAT"] == "text"
    chosen = load_config(tmp_path, {"LOG_FORMAT": "JSON", "LOG_LEVEL": "debug"})
    assert (chosen["LOG_FORMAT"], chosen["LOG_LEVEL"]) == ("json", "DEBUG")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_config(tmp_path, {"LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="LOG_LEVEL"):
        load_config(tmp_path, {"LOG_LEVEL": "loud"})


def test_metrics_settings(tmp_path: Path):
    config = load_config(tmp_path, {"METRICS_TOKEN": " t0ken "})
    assert config["METRICS_TOKEN"] == "t0ken"
    assert config["WORKER_METRICS_PORT"] == 0
    assert config["HEALTH_TIMEOUT"] == 1.0
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        load_config(tmp_path, {"WORKER_METRICS_PORT": "9101"})
    served = load_config(
        tmp_path, {"WORKER_METRICS_PORT": "9101", "PROMETHEUS_MULTIPROC_DIR": "/x"}
    )
    assert (served["WORKER_METRICS_PORT"], served["WORKER_METRICS_ADDRESS"]) == (9101, "127.0.0.1")


def test_smtp_hosts_lists_relays_in_order_with_smtp_port_as_the_default_port(tmp_path: Path):
    env = {"SMTP_HOSTS": "relay1.example.org, relay2.example.org:2525,[2001:db8::1]:26"}
    assert load_config(tmp_path, {**env, "SMTP_PORT": "587"})["SMTP_HOSTS"] == [
        ("relay1.example.org", 587),
        ("relay2.example.org", 2525),
        ("2001:db8::1", 26),
    ]
    assert load_config(tmp_path, {})["SMTP_HOSTS"] == []  # SMTP_HOST and SMTP_PORT name the relay


@pytest.mark.parametrize("hosts", ["relay:smtp", "relay:99999", "user@relay", "relay/x", ":25"])
def test_a_nonsense_relay_list_is_refused(tmp_path: Path, hosts: str):
    with pytest.raises(ConfigError, match="SMTP_HOSTS"):
        load_config(tmp_path, {"SMTP_HOSTS": hosts})
