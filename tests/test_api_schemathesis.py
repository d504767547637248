"""Schemathesis fuzzes every operation of the OpenAPI spec against the running API over real HTTP.

No input may produce a 5xx, and every response must match the documented status codes, content types and
schemas. Requests carry the API key (so the fuzzer reaches past auth); auth itself is tested in test_api.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.api.main import create_app
from core.settings import Settings
from tests.fixtures.api_server import (
    API_KEY,
    AUTH,
    SHARED_ENV,
    ApiServer,
    shared_api_fixture,  # noqa: F401  (registers `shared_api`)
)

pytestmark = pytest.mark.slow


def _spec() -> dict:
    """The spec the server publishes (built without starting it: collection needs it before fixtures)."""
    with tempfile.TemporaryDirectory() as home:
        limits = {"max_upload_files": int(SHARED_ENV["MMRAG_MAX_UPLOAD_FILES"]), "api_keys": [API_KEY]}
        return create_app(Settings(home=Path(home), **limits)).openapi()


schema = schemathesis.openapi.from_dict(_spec())


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("MMRAG_FUZZ_EXAMPLES", "20")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_responses_match_the_spec(
    case: schemathesis.Case, shared_api: ApiServer
) -> None:
    excluded = []
    if case.operation.path == "/v1/search":
        # `image` must decode to a picture, which a JSON schema cannot say: random base64 gets a 400
        excluded.append(schemathesis.checks.positive_data_acceptance)
    if case.operation.path == "/v1/sources" and case.method == "POST":
        # more files than MMRAG_MAX_UPLOAD_FILES (the schema's maxItems) is a 413 by design, not a 422
        excluded.append(schemathesis.checks.negative_data_rejection)
    case.call_and_validate(base_url=shared_api.url, headers=AUTH, timeout=60, excluded_checks=excluded)
