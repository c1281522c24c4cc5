"""The REST API under generated input (Schemathesis, https://schemathesis.readthedocs.io/): every operation of
``/api/v1/schema/`` gets valid and invalid requests built from the schema itself, through the WSGI
application, as a staff user (session) and, for the storefront's operations, anonymously. No answer may be a
server error (5xx), and every answer the schema describes must match it.

Bounded: ``MAX_EXAMPLES`` requests per operation and role, derandomized so a run is repeatable (a failure
names the request that caused it).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 25
CSRF = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"  # a 32-character CSRF secret, sent as cookie and header
CHECKS = [schemathesis.checks.not_a_server_error, response_schema_conformance, content_type_conformance]
STOREFRONT = ["POST /api/v1/orders/", "GET /api/v1/orders/track/{token}/"]  # anonymous callers allowed
BOUNDED = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


# Loaded when the module is collected (the schema view reads no database); the same WSGI application then
# answers every generated request.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def requests_keep_the_test_connection() -> Any:
    """Requests through the WSGI application keep the test's database connection (and its transaction), as
    Django's test client does: the handler would close it when each request finishes."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_cookies(db: Any, make_order: Any, make_company: Any, client: Any) -> dict[str, str]:
    """A signed-in manager's session (and a CSRF secret), with a few orders and a company to list."""
    make_company()
    for _ in range(3):
        make_order()
    client.force_login(make_user("fuzz-manager", role="manager"))
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF}


@schema.parametrize()
@BOUNDED
def test_no_operation_answers_a_manager_with_a_server_error_or_off_schema(
    case: Any, staff_cookies: dict[str, str]
) -> None:
    case.call_and_validate(cookies=staff_cookies, headers={"X-CSRFToken": CSRF}, checks=CHECKS)


@schema.include(name=STOREFRONT).parametrize()
@BOUNDED
def test_no_storefront_operation_answers_anyone_with_a_server_error_or_off_schema(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)
