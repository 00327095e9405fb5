"""The whole API, driven by schemathesis from its own /api/openapi.json: bodies, parameters and
ids that fit the description and ones that do not, with a valid admin token. No call answers 5xx.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from sqlalchemy import select

from updates.extensions import db
from updates.models import StaffUser
from updates.staff.accounts import issue_api_token

EXAMPLES = 40  # per operation and mode: about 800 calls in all


@pytest.fixture
def admin_token(app: Flask, people: dict[str, int]) -> str:
    admin = db.session.scalar(select(StaffUser).where(StaffUser.role == "admin"))
    _, token = issue_api_token(admin)
    db.session.commit()
    return token


def operations(app: Flask) -> list:
    """Every operation the app's own description lists, loaded over WSGI."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # The token is ours, valid, so that calls reach their views; 401s are tested elsewhere.
    schema.config.generation.update(with_security_parameters=False)
    return [result.ok() for result in schema.get_all_operations()]


def cases(operation, mode: GenerationMode, digest_id: int):
    """Its cases; where it names a digest, half of them name the one that exists."""
    generated = operation.as_strategy(generation_mode=mode)
    if "{id}" not in operation.path:
        return generated
    existing = operation.as_strategy(generation_mode=mode, path_parameters={"id": digest_id})
    return st.one_of(generated, existing)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_api_call_answers_5xx(app, people, admin_token, mode):
    found = operations(app)
    assert found
    for operation in found:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases(operation, mode, people["digest"]))
        def call(case):
            response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
            case.validate_response(response, checks=[not_a_server_error])

        try:
            call()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # a call with no input has none to get wrong
