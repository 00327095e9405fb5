"""VERP return paths: signed, compact, and within RFC 5321's 64 octets for the largest ids."""

from __future__ import annotations

import pytest

from updates import limits, tokens
from updates.config import ConfigError, load_config
from updates.limits import MAX_ID
from updates.mail.verp import VERP, read_verp, verp_sender

LARGEST = [(MAX_ID, MAX_ID), (2**63 - 1, 2**63 - 1)]  # our 32-bit ids, and any 64-bit one


@pytest.fixture
def app_config(app_config):
    app_config["VERP_RETURN_PATH"] = "bounces+{token}@example.org"
    return app_config


@pytest.mark.parametrize(("digest_id", "subscriber_id"), [(1, 1), (12, 3456789), *LARGEST])
def test_a_return_path_fits_in_a_local_part_and_names_its_delivery(app, digest_id, subscriber_id):
    verp = verp_sender(digest_id, subscriber_id)
    local, _, domain = verp.partition("@")
    assert domain == "example.org"
    assert len(local.encode()) <= 64
    assert read_verp(verp) == (digest_id, subscriber_id)


def test_with_our_largest_ids_the_token_is_as_long_as_the_configuration_allows_for(app):
    local = verp_sender(MAX_ID, MAX_ID).partition("@")[0]
    assert len(local.removeprefix("bounces+")) == limits.VERP_TOKEN


def test_a_return_path_with_no_room_for_the_token_is_refused_at_start_up(tmp_path):
    longest = "b" * 33 + "+{token}@example.org"
    assert load_config(tmp_path, {"VERP_RETURN_PATH": longest})["VERP_RETURN_PATH"] == longest
    with pytest.raises(ConfigError, match="no room for the token"):
        load_config(tmp_path, {"VERP_RETURN_PATH": "b" + longest})


def test_a_return_path_survives_a_relay_that_changes_its_case(app):
    verp = verp_sender(MAX_ID, 42)
    assert read_verp(verp.upper()) == (MAX_ID, 42)


def test_a_return_path_cannot_be_altered(app):
    local = verp_sender(12, 34).partition("@")[0]
    digest, subscriber, tag = local.removeprefix("bounces+").split("-")
    assert read_verp(f"bounces+{subscriber}-{digest}-{tag}@example.org") is None
    assert read_verp(f"bounces+{digest}-{subscriber}1-{tag}@example.org") is None
    other = "1" if tag.endswith("0") else "0"
    assert read_verp(f"bounces+{digest}-{subscriber}-{tag[:-1]}{other}@example.org") is None
    assert read_verp(f"bounces+{digest}-{subscriber}@example.org") is None


def test_a_return_path_made_by_an_earlier_release_is_still_read(app):
    earlier = f"bounces+{tokens.make_token(VERP, [12, 3456789])}@example.org"
    assert read_verp(earlier) == (12, 3456789)
