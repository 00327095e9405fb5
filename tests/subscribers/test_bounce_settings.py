"""The bounce settings, read from plain environment mappings."""

from __future__ import annotations

import pytest

from updates.config import ConfigError, bounce_settings


def test_defaults_read_no_mailbox_and_suppress_at_the_fifth_soft_bounce_in_30_days():
    settings = bounce_settings({})
    assert settings["BOUNCE_IMAP"] is None
    assert settings["SOFT_BOUNCE_LIMIT"] == 5
    assert settings["SOFT_BOUNCE_WINDOW_DAYS"] == 30
    assert settings["SES_SNS_TOPIC_ARNS"] == ()
    assert settings["SES_SNS_AUTO_CONFIRM"] is True
    assert settings["MAILGUN_WEBHOOK_SIGNING_KEY"] == ""


def test_an_imaps_url_gives_its_parts_with_the_password_decoded():
    url = "imaps://bounces%40example.org:p%2Fss@mail.example.org/Bounces?processed=Done"
    assert bounce_settings({"BOUNCE_IMAP_URL": url})["BOUNCE_IMAP"] == {
        "host": "mail.example.org",
        "port": 993,
        "tls": "ssl",
        "username": "bounces@example.org",
        "password": "p/ss",
        "folder": "Bounces",
        "processed": "Done",
    }


def test_imap_means_starttls_and_defaults_to_the_inbox_and_a_processed_folder():
    mailbox = bounce_settings({"BOUNCE_IMAP_URL": "imap://u:p@mail.example.org:1143"})[
        "BOUNCE_IMAP"
    ]
    assert (mailbox["tls"], mailbox["port"]) == ("starttls", 1143)
    assert (mailbox["folder"], mailbox["processed"]) == ("INBOX", "Processed")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_imap_is_allowed_on_loopback(host):
    url = f"imap://u:p@{host}:10143/INBOX?tls=none"
    assert bounce_settings({"BOUNCE_IMAP_URL": url})["BOUNCE_IMAP"]["tls"] == "none"


@pytest.mark.parametrize(
    "url",
    [
        "imap://u:p@mail.example.org/INBOX?tls=none",  # plain IMAP across a network
        "imaps://u:p@127.0.0.1/INBOX?tls=none",
        "pop3://u:p@mail.example.org/",
        "imaps://mail.example.org/INBOX",  # no user
        "imaps://u:p@mail.example.org/INBOX?processed=INBOX",
        "imaps://u:p@mail.example.org:port/INBOX",
    ],
)
def test_a_bounce_mailbox_url_that_cannot_work_is_refused(url):
    with pytest.raises(ConfigError, match="BOUNCE_IMAP_URL"):
        bounce_settings({"BOUNCE_IMAP_URL": url})


@pytest.mark.parametrize("name", ["SOFT_BOUNCE_LIMIT", "SOFT_BOUNCE_WINDOW_DAYS"])
@pytest.mark.parametrize("value", ["0", "-1", "five"])
def test_soft_bounce_settings_must_be_positive_whole_numbers(name, value):
    with pytest.raises(ConfigError, match=name):
        bounce_settings({name: value})


def test_topics_are_a_comma_separated_list():
    env = {"SES_SNS_TOPIC_ARNS": " arn:aws:sns:eu-west-2:1:a, arn:aws:sns:eu-west-2:1:b ,"}
    assert bounce_settings(env)["SES_SNS_TOPIC_ARNS"] == (
        "arn:aws:sns:eu-west-2:1:a",
        "arn:aws:sns:eu-west-2:1:b",
    )


@pytest.mark.parametrize("value", ["-1", "121", "soon"])
def test_idling_is_bounded_within_rqs_limit_on_a_job(value):
    with pytest.raises(ConfigError, match="BOUNCE_IMAP_IDLE_SECONDS"):
        bounce_settings({"BOUNCE_IMAP_IDLE_SECONDS": value})
