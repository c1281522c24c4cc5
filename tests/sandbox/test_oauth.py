"""OAuth 2.0: consent page, code exchange, refresh rotation and reuse, token checks."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import requests

from tests.sandbox.helpers import claims, token_request

OAUTH_KEYS = {"hint", "title", "type", "status", "detail"}


def refresh(sb, token):
    return token_request(sb, grant_type="refresh_token", refresh_token=token)


def test_the_consent_page_offers_allow_and_decline(sb):
    resp = requests.get(
        sb.url + "/oauth", params={"client_id": sb.client_id, "state": "s1", "mode": "post_message"}
    )
    assert resp.status_code == 200
    assert 'value="allow"' in resp.text and 'value="decline"' in resp.text
    assert 'name="state" value="s1"' in resp.text


def test_allow_redirects_with_code_state_referer_and_client_id(sb):
    form = {"client_id": sb.client_id, "state": "xyz", "decision": "allow"}
    resp = requests.post(sb.url + "/oauth", data=form, allow_redirects=False)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(sb.redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz"]
    assert query["client_id"] == [sb.client_id]
    assert query["referer"] == [urlsplit(sb.url).netloc]
    assert token_request(sb, code=query["code"][0]).status_code == 200


def test_decline_redirects_with_access_denied(sb):
    form = {"client_id": sb.client_id, "state": "xyz", "decision": "decline"}
    resp = requests.post(sb.url + "/oauth", data=form, allow_redirects=False)
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "client_id": [sb.client_id], "state": ["xyz"]}


def test_the_code_exchange_returns_the_documented_shape(sb):
    resp = token_request(sb, code=sb.mint_code())
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"token_type", "expires_in", "access_token", "refresh_token", "server_time"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert body["refresh_token"].startswith("def502")
    jwt = claims(body["access_token"])
    assert jwt["account_id"] == 31000001 and jwt["client_id"] == sb.client_id
    assert jwt["exp"] - jwt["iat"] == 86400 and jwt["api_domain"]


def test_a_code_works_once(sb):
    code = sb.mint_code()
    assert token_request(sb, code=code).status_code == 200
    again = token_request(sb, code=code)
    assert again.status_code == 400
    assert again.headers["Content-Type"] == "application/problem+json"
    assert again.json()["hint"] == "Authorization code has been revoked"
    assert set(again.json()) == OAUTH_KEYS


def test_a_code_older_than_twenty_minutes_has_expired(sb):
    resp = token_request(sb, code=sb.mint_code(age=20 * 60 + 1))
    assert resp.status_code == 400
    assert resp.json()["hint"] == "Authorization code has expired"
    assert resp.json()["type"] == "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"


def test_the_code_lifetime_is_configurable(sb):
    sb.configure(code_lifetime=1)
    code = sb.mint_code()
    time.sleep(1.2)
    assert token_request(sb, code=code).json()["hint"] == "Authorization code has expired"


def test_redirect_uri_must_match_exactly(sb):
    resp = token_request(sb, code=sb.mint_code(), redirect_uri=sb.redirect_uri.rstrip("/"))
    assert resp.status_code == 400
    assert resp.json()["detail"] == "В запросе отсутствует ряд параметров или параметры невалидны"


def test_a_wrong_client_id_or_secret_is_401_without_a_hint(sb):
    expected = {
        "title": "Некорректный клиент",
        "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
        "status": 401,
        "detail": "Авторизация клиента не прошла",
    }
    for wrong in ({"client_id": "nope"}, {"client_secret": "x"}, {"client_id": ""}):
        resp = token_request(sb, code=sb.mint_code(), **wrong)
        assert resp.status_code == 401, wrong
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert resp.json() == expected
    first = sb.exchange_code()
    assert refresh(sb, first["refresh_token"]).status_code == 200
    resp = token_request(
        sb, grant_type="refresh_token", refresh_token=first["refresh_token"], client_secret="x"
    )
    assert resp.status_code == 401 and resp.json() == expected


def test_a_bad_code_is_rejected(sb):
    assert token_request(sb, code="garbage").json()["hint"] == "Cannot decrypt the authorization code"


def test_refresh_rotates_and_the_old_token_works_until_the_new_one_is_used(sb):
    first = sb.exchange_code()
    second = refresh(sb, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    retry = refresh(sb, first["refresh_token"])
    assert retry.status_code == 200
    third = retry.json()
    assert refresh(sb, third["refresh_token"]).status_code == 200
    dead = refresh(sb, first["refresh_token"])
    assert dead.status_code == 401
    assert dead.json()["hint"] == "Token has been revoked"
    assert refresh(sb, second["refresh_token"]).json()["hint"] == "Token has been revoked"


def test_using_the_new_access_token_revokes_the_old_refresh_token(sb):
    first = sb.exchange_code()
    second = refresh(sb, first["refresh_token"]).json()
    assert sb.api("GET", "account", token=second["access_token"]).status_code == 200
    assert refresh(sb, first["refresh_token"]).json()["hint"] == "Token has been revoked"
    assert refresh(sb, second["refresh_token"]).status_code == 200


def test_api_calls_need_a_valid_bearer_token(sb):
    expected = {
        "title": "Unauthorized",
        "type": "https://httpstatus.es/401",
        "status": 401,
        "detail": "Invalid user name or password",
    }
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}):
        resp = requests.get(sb.url + "/api/v4/account", headers=headers)
        assert resp.status_code == 401
        assert resp.json() == expected
        assert resp.headers["Content-Type"] == "application/problem+json"


def test_access_tokens_expire_after_the_configured_lifetime(sb):
    sb.configure(token_lifetime=1)
    body = sb.exchange_code()
    assert body["expires_in"] == 1
    assert sb.api("GET", "account", token=body["access_token"]).status_code == 200
    time.sleep(2.1)
    assert sb.api("GET", "account", token=body["access_token"]).status_code == 401


def test_revoked_and_reset_tokens_get_401(sb):
    token = sb.exchange_code()["access_token"]
    sb.control("POST", "tokens/revoke", {"token": token})
    assert sb.api("GET", "account", token=token).status_code == 401
    other = sb.long_lived_token()
    sb.reset()
    assert sb.api("GET", "account", token=other).status_code == 401


def test_long_lived_tokens_carry_their_expiry_and_have_no_refresh(sb):
    body = sb.control("POST", "long_lived_token", {"client_id": sb.client_id, "lifetime": 3600})
    assert set(body) == {"access_token", "expires_at"}
    assert claims(body["access_token"])["exp"] == body["expires_at"]
    assert sb.api("GET", "account", token=body["access_token"]).status_code == 200


def test_a_revoked_refresh_fault_answers_token_has_been_revoked(sb):
    first = sb.exchange_code()
    sb.fault(kind="revoked_refresh", times=1)
    resp = refresh(sb, first["refresh_token"])
    assert resp.status_code == 401 and resp.json()["hint"] == "Token has been revoked"


def test_extra_integrations_can_be_registered(sb):
    made = sb.control("POST", "integrations", {"redirect_uri": "https://app.example/cb"})
    code = sb.mint_code(client_id=made["client_id"])
    resp = token_request(
        sb,
        code=code,
        client_id=made["client_id"],
        client_secret=made["client_secret"],
        redirect_uri="https://app.example/cb",
    )
    assert resp.status_code == 200
