"""Hardening of the JSON API: bounded bodies, JSON only, huge ids, throttles keyed on the real client in the
shared cache, and hashed API tokens (django-rest-knox)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.db import connection
from knox import crypto
from knox.models import AuthToken
from knox.settings import knox_settings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from console.orders.models import Order
from tests.fixtures.bodies import UnreadableInput

pytestmark = pytest.mark.django_db

ORDERS, CUSTOMERS = "/api/v1/orders/", "/api/v1/customers/"
BIG_ID = 2**63


def json_error(response: Any, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    return response.json()


# --- bodies ------------------------------------------------------------------------------------------------


def test_a_20_mb_json_body_is_a_json_413(api_client: APIClient, staff_client: APIClient) -> None:
    body = b'{"comment": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    json_error(api_client.generic("POST", ORDERS, body, content_type="application/json"), 413)
    json_error(staff_client.generic("POST", CUSTOMERS, body, content_type="application/json"), 413)
    assert not Order.objects.exists()


def post_unread(
    client: APIClient, path: str, content_type: str, declared: int
) -> tuple[Any, UnreadableInput]:
    """POST declaring ``declared`` bytes of ``content_type`` with a body that must not be read."""
    body = UnreadableInput()
    response = client.generic(
        "POST", path, b"{}", content_type=content_type, CONTENT_LENGTH=str(declared), **{"wsgi.input": body}
    )
    return response, body


@pytest.fixture(params=["anonymous", "staff"])
def any_client(request: Any) -> APIClient:
    return request.getfixturevalue("api_client" if request.param == "anonymous" else "staff_client")


@pytest.mark.parametrize("path", [ORDERS, CUSTOMERS])
def test_a_huge_declared_body_is_refused_unread(any_client: APIClient, path: str) -> None:
    response, body = post_unread(any_client, path, "application/json", 300 * 1024**2)
    json_error(response, 413)
    assert body.reads == 0


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=zzz", "application/x-www-form-urlencoded"]
)
def test_a_form_or_multipart_post_is_a_json_415_without_reading_the_body(
    any_client: APIClient, content_type: str
) -> None:
    # Under the body limit, so only the format can refuse it; a session's CSRF check would read a form.
    response, body = post_unread(any_client, ORDERS, content_type, 2 * 1024**2)
    assert "Unsupported media type" in json_error(response, 415)["detail"]
    assert body.reads == 0


def test_json_still_works(staff_client: APIClient) -> None:
    response = staff_client.post(CUSTOMERS, {"first_name": "Анна", "phone": "+79991112233"}, format="json")
    assert response.status_code == 201, response.json()


# --- ids ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
@pytest.mark.parametrize(
    "path", [f"{ORDERS}{BIG_ID}/", f"{CUSTOMERS}{BIG_ID}/", f"/api/v1/companies/{BIG_ID}/"]
)
def test_an_id_of_2_to_the_63_in_the_url_is_a_json_404(
    staff_client: APIClient, method: str, path: str
) -> None:
    json_error(getattr(staff_client, method)(path, {}, format="json"), 404)


@pytest.mark.parametrize(
    "url",
    [f"{ORDERS}?customer={BIG_ID}", f"{CUSTOMERS}?company={BIG_ID}", f"{ORDERS}?customer=-{BIG_ID}"],
)
def test_an_id_of_2_to_the_63_in_a_filter_is_a_json_400(staff_client: APIClient, url: str) -> None:
    json_error(staff_client.get(url), 400)


def test_ids_of_2_to_the_63_in_a_body_are_a_json_400(staff_client: APIClient, products: list) -> None:
    body = {
        "customer": BIG_ID,
        "installation_date": "2030-01-01",
        "dismantle_date": "2030-01-02",
        "items": [{"product": BIG_ID, "quantity": 1}],
    }
    json_error(staff_client.post(ORDERS, body, format="json"), 400)
    json_error(staff_client.post(CUSTOMERS, {"first_name": "A", "company": BIG_ID}, format="json"), 400)


# --- throttles ---------------------------------------------------------------------------------------------


@pytest.fixture
def one_per_minute(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The storefront throttle at 1/min, with no history of the test client's addresses."""
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"storefront": "1/min"})
    keys = [f"throttle_storefront_{ip}" for ip in ("127.0.0.1", "203.0.113.7", "203.0.113.8")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def track(client: APIClient, forwarded_for: str) -> int:
    return client.get(f"{ORDERS}track/no-such-token/", HTTP_X_FORWARDED_FOR=forwarded_for).status_code


def test_throttles_count_in_the_shared_cache() -> None:
    assert not isinstance(caches["default"], LocMemCache)


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(
    api_client: APIClient, one_per_minute: None, settings: Any
) -> None:
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0  # TRUSTED_PROXY_COUNT's default
    assert track(api_client, "198.51.100.1") == 404
    assert track(api_client, "198.51.100.2") == 429  # same REMOTE_ADDR: one client
    assert cache.get("throttle_storefront_127.0.0.1")


def test_behind_one_trusted_proxy_the_throttle_keys_on_the_address_it_appended(
    api_client: APIClient, one_per_minute: None, settings: Any
) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert track(api_client, "1.1.1.1, 203.0.113.7") == 404
    assert track(api_client, "2.2.2.2, 203.0.113.7") == 429  # what the client put before it is not trusted
    assert track(api_client, "203.0.113.8") == 404  # another client


# --- API tokens --------------------------------------------------------------------------------------------


def forged(token: str, index: int) -> str:
    """``token`` with the character at ``index`` swapped for another one: never the token itself (a random
    token may end in the replacement character)."""
    position = index % len(token)
    replacement = "1" if token[position] == "0" else "0"
    return token[:position] + replacement + token[position + 1 :]


@pytest.mark.parametrize("prefix", ["Token", "Bearer"])
@pytest.mark.parametrize("edges", ["random", "00", "11"])
def test_a_knox_token_authenticates_staff_with_either_prefix(
    staff_user: Any, prefix: str, edges: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if edges != "random":  # the tokens a one-character swap to "0" used to miss one time in sixteen
        length = knox_settings.AUTH_TOKEN_CHARACTER_LENGTH
        fixed = edges[0] + "ab" * (length // 2 - 1) + edges[1]
        monkeypatch.setattr(crypto, "create_token_string", lambda: fixed)
    _instance, token = AuthToken.objects.create(user=staff_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{prefix} {token}")
    assert client.get(CUSTOMERS).status_code == 200
    # The last character: a known token key with a wrong secret; the first: a key no token has.
    for wrong in (forged(token, -1), forged(token, 0)):
        assert wrong != token and len(wrong) == len(token)
        client.credentials(HTTP_AUTHORIZATION=f"{prefix} {wrong}")
        assert client.get(CUSTOMERS).status_code == 403  # DRF's answer when the first scheme is the session


def test_a_token_is_stored_as_a_digest_only(staff_user: Any) -> None:
    _instance, token = AuthToken.objects.create(user=staff_user)
    stored = repr(list(AuthToken.objects.values()))
    assert token not in stored


def test_the_api_token_command_prints_a_working_token_once_and_revokes(staff_user: Any) -> None:
    out, err = StringIO(), StringIO()
    call_command("api_token", "create", staff_user.username, stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert "shown only now" in err.getvalue() and token not in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(CUSTOMERS).status_code == 200
    call_command("api_token", "revoke", staff_user.username, stdout=StringIO())
    assert client.get(CUSTOMERS).status_code == 403


def test_the_api_token_command_refuses_a_user_the_api_would_refuse(django_user_model: Any) -> None:
    from django.core.management.base import CommandError

    django_user_model.objects.create_user("clerk", password="pw")
    with pytest.raises(CommandError, match="not an active user with a console role"):
        call_command("api_token", "create", "clerk", stdout=StringIO())


def test_the_migration_turns_plain_tokens_into_digests_that_keep_working(staff_user: Any) -> None:
    migration = importlib.import_module("console.web.migrations.0002_api_tokens_hashed")
    plain = "0123456789abcdef0123456789abcdef01234567"  # a rest_framework.authtoken key: 40 hex digits
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, user_id int)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [plain, "2024-01-01 00:00:00", staff_user.pk],
        )
    from django.apps import apps

    migration.hash_plain_tokens(apps, type("Editor", (), {"connection": connection})())

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert plain not in repr(list(AuthToken.objects.values()))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plain}")
    assert client.get(CUSTOMERS).status_code == 200


def test_the_admin_lists_and_revokes_tokens_but_never_makes_or_shows_one(
    admin_client: Any, staff_user: Any
) -> None:
    instance, token = AuthToken.objects.create(user=staff_user)
    page = admin_client.get("/admin/knox/authtoken/").content.decode()
    assert staff_user.username in page and token[:8] not in page
    assert admin_client.get("/admin/knox/authtoken/add/").status_code == 403
    admin_client.post(f"/admin/knox/authtoken/{instance.pk}/delete/", {"post": "yes"})
    assert not AuthToken.objects.exists()


# --- issue 18: non-UTF-8 tokens, over-long ids under the CSRF check ---------------------------------------

NON_UTF8_TOKENS = ["Token \xff", "Bearer \xe9t\xe9", "Token \xc3(", "Bearer \x80\x81"]


@pytest.mark.parametrize("header", NON_UTF8_TOKENS, ids=["token-ff", "bearer-ete", "token-c3", "bearer-80"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ORDERS),
        ("post", ORDERS),  # the anonymous checkout
        ("get", f"{ORDERS}track/abcdef/"),  # the anonymous tracking link
        ("get", CUSTOMERS),
        ("get", "/api/v1/companies/"),
        ("patch", f"{ORDERS}1/"),
    ],
)
def test_a_non_utf8_token_is_a_json_refusal_on_every_api_path(method: str, path: str, header: str) -> None:
    response = getattr(APIClient(), method)(path, {}, format="json", HTTP_AUTHORIZATION=header)
    # 403, not 401: the first authentication class (the session) names no WWW-Authenticate scheme.
    body = json_error(response, 403)
    assert body == {"detail": "Invalid token."}


OVERLONG = "99999999999999999999999999"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", [f"{ORDERS}{OVERLONG}/", f"{CUSTOMERS}{OVERLONG}/", f"/api/v1/x/{OVERLONG}"])
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "session"])
def test_an_over_long_id_with_an_unsafe_method_is_the_json_404_not_the_csrf_page(
    staff_user: Any, method: str, path: str, signed_in: bool
) -> None:
    client = APIClient(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(staff_user)
    json_error(getattr(client, method)(path, {}, format="json"), 404)
