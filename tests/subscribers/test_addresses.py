"""Addresses: stored with their domain in ASCII, one identity for every spelling of a domain."""

from __future__ import annotations

import hashlib
import importlib.util

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update

from tests.helpers import PASSWORD, sign_up, subscriber
from updates import ROOT
from updates.addresses import InvalidAddress, address_key, normalise_address, plain_address
from updates.extensions import db
from updates.models import StaffUser, Subscriber, SubscriberStatus, Suppression
from updates.staff.accounts import add_staff, find_staff
from updates.subscribers.lookup import find_by_address
from updates.subscribers.suppression import is_suppressed

FULL_WIDTH_E = "victim@\uff45xample.net"  # a full-width e
SPELLINGS = [
    "victim@example.net",
    FULL_WIDTH_E,
    "VICTIM@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.NET",  # all full-width
    "Victim@Example.Net",
]
IDN_SPELLINGS = ["ada@bücher.de", "ada@BÜCHER.de", "ada@xn--bcher-kva.de", "Ada@XN--BCHER-KVA.DE"]


def test_an_international_domain_is_stored_in_punycode():
    assert normalise_address("Ada@Bücher.de") == "Ada@xn--bcher-kva.de"
    assert normalise_address("ada@xn--bcher-kva.de") == "ada@xn--bcher-kva.de"
    assert normalise_address(FULL_WIDTH_E) == "victim@example.net"


def test_an_international_local_part_is_kept_as_it_is():
    assert normalise_address("josé@bücher.de") == "josé@xn--bcher-kva.de"


@pytest.mark.parametrize("spellings", [SPELLINGS, IDN_SPELLINGS])
def test_every_spelling_of_a_domain_is_one_identity(spellings):
    assert len({address_key(spelling) for spelling in spellings}) == 1
    assert {address_key(normalise_address(s)) for s in spellings} == {address_key(spellings[0])}


def test_an_address_that_is_not_one_is_still_refused():
    with pytest.raises(InvalidAddress):
        normalise_address("ada@bücher")


def test_signing_up_with_every_spelling_of_a_domain_makes_one_subscriber(client, topics):
    for spelling in IDN_SPELLINGS:
        assert sign_up(client, spelling, ["events"]).status_code == 200
    [row] = db.session.scalars(select(Subscriber)).all()
    assert row.email == "ada@xn--bcher-kva.de"
    assert row.email_key == "ada@xn--bcher-kva.de"


def test_the_per_address_limit_counts_every_spelling_of_the_domain(
    client, topics, run_jobs, mail_server
):
    answers = [sign_up(client, spelling, ["events"]).status_code for spelling in SPELLINGS]
    assert answers == [200, 200, 200, 200]
    assert sign_up(client, FULL_WIDTH_E, ["events"]).status_code == 429
    assert sign_up(client, "victim@bücher.de", ["events"]).status_code == 200
    run_jobs()
    assert len(mail_server.messages_to("victim@example.net")) == 4


# -- addresses stored before: migration 0007 ----------------------------------------------------


def run_migration(name: str, direction: str = "upgrade") -> None:
    [path] = (ROOT / "migrations" / "versions").glob(f"{name}_*.py")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with (
        db.engine.begin() as connection,
        Operations.context(MigrationContext.configure(connection)),
    ):
        getattr(module, direction)()
    db.session.expire_all()


def plain_hash(key: str) -> str:
    """The unkeyed hash suppressions held until migration 0008."""
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
def stored_in_unicode(app):
    """A subscriber, a bounced address and a staff member as earlier releases stored them."""
    db.session.execute(
        insert(Subscriber).values(
            email="Ada@bücher.de",
            email_key="ada@bücher.de",
            status=SubscriberStatus.ACTIVE,
            token_version=1,
        )
    )
    db.session.add(
        Suppression(
            email_hash=plain_hash("bob@bücher.de"),
            email="bob@bücher.de",
            reason="bounce",
        )
    )
    add_staff("carol@example.org", "admin", PASSWORD)
    db.session.execute(
        update(StaffUser)
        .where(StaffUser.email == "carol@example.org")
        .values(email="carol@bücher.de")
    )
    db.session.commit()


def test_the_migration_rewrites_addresses_stored_in_unicode(stored_in_unicode):
    assert find_by_address("ada@bücher.de") is None  # before it, the row is not found again

    run_migration("0007")

    found = find_by_address("ADA@bücher.de")
    assert (found.email, found.email_key) == ("Ada@xn--bcher-kva.de", "ada@xn--bcher-kva.de")
    suppression = db.session.scalar(select(Suppression))
    assert suppression.email == "bob@xn--bcher-kva.de"
    assert suppression.email_hash == plain_hash("bob@xn--bcher-kva.de")
    assert find_staff("carol@bücher.de").email == "carol@xn--bcher-kva.de"

    run_migration("0008")  # which keys the hashes, as `db upgrade` runs it next
    assert is_suppressed("bob@bücher.de")
    assert is_suppressed("BOB@xn--bcher-kva.de")


def test_the_migration_leaves_alone_an_address_that_would_become_a_duplicate(stored_in_unicode):
    db.session.add(
        Subscriber(email="ada@xn--bcher-kva.de", email_key="ada@xn--bcher-kva.de", status="active")
    )
    db.session.commit()
    run_migration("0007")
    assert subscriber("ada@bücher.de").email == "Ada@bücher.de"


def test_the_migration_can_be_undone(stored_in_unicode):
    run_migration("0007")
    run_migration("0007", "downgrade")
    assert subscriber("ada@bücher.de").email == "Ada@bücher.de"


# -- the fast path for plain addresses agrees with email-validator ---------------------------------

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
LOCAL_PARTS = st.text(alphabet=ATEXT + ".", min_size=1, max_size=70)
LABELS = st.text(alphabet="abcxyzABC019-", min_size=1, max_size=64)
TLDS = st.sampled_from(
    ["org", "UK", "io", "c1", "123", "x", "test", "local", "example", "xn--p1ai"]
)
DOMAINS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]), st.lists(LABELS, min_size=0, max_size=4), TLDS
)
ADDRESSES = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", LOCAL_PARTS, DOMAINS),
    st.from_regex(r"[a-z0-9.+_-]{55,70}@([a-z0-9-]{1,6}\.){1,3}[a-z]{2,4}", fullmatch=True),
    st.from_regex(
        r"[a-z]{1,5}@([a-z]{1,3}-{1,3}[a-z0-9-]{0,4}\.){1,2}(org|test|c1)", fullmatch=True
    ),
    st.text(alphabet=ATEXT + '.@ \\"()[],:;<>', max_size=80),
)


@settings(max_examples=3000, deadline=None)
@given(ADDRESSES)
def test_a_plain_address_is_taken_only_as_email_validator_would_take_it(text):
    plain = plain_address(text)
    try:
        full = validate_email(
            text, check_deliverability=False, allow_smtputf8=True, allow_display_name=False
        )
    except EmailNotValidError:
        assert plain is None
        return
    assert plain in (None, f"{full.local_part}@{full.ascii_domain}")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Reader.One+news@Example.ORG", "Reader.One+news@example.org"),
        ("a@localhost.example.org", "a@localhost.example.org"),
        ("a@mail.test", None),  # special use: the full check refuses it
        ("a@xn--bcher-kva.de", None),  # punycode: the full check reads it
        ("a@b.c1", None),
        ("a@ab--cd.org", None),
        ("a" * 65 + "@example.org", None),
        ("josé@example.org", None),
    ],
)
def test_the_fast_path_takes_the_common_case_and_leaves_the_rest(text, plain):
    assert plain_address(text) == plain
