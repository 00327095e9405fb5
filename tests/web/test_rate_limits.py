"""The limits on routes that send email hold whatever a client adds to its request."""

from __future__ import annotations

import pytest

from tests.factories import create_subscriber
from tests.helpers import form_values, page
from updates.links import manage_token


@pytest.fixture
def csrf_token(client, topics) -> str:
    return form_values(page(client.get("/manage")).find("form", method="post"))["csrf_token"]


def test_renewing_a_manage_link_is_limited_per_person_whatever_email_field_is_added(
    client, csrf_token
):
    token = manage_token(create_subscriber("ada@example.org", ["events"]))
    answers = [
        client.post(
            f"/manage/{token}/renew", data={"csrf_token": csrf_token, "email": f"x{n}@example.org"}
        ).status_code
        for n in range(5)
    ]
    assert answers == [200, 200, 200, 200, 429]


@pytest.fixture
def strict_ip_limit(app_config):
    app_config["SIGNUP_LIMIT_PER_IP"] = "3/minute"


def test_renewing_confirmation_links_is_limited_per_ip(strict_ip_limit, client, csrf_token):
    answers = [
        client.post(f"/confirm/made-up-{n}/renew", data={"csrf_token": csrf_token}).status_code
        for n in range(4)
    ]
    assert answers == [400, 400, 400, 429]
