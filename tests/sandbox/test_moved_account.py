"""An account whose domain moved: the old host refuses, the subdomain lookup says where it lives now."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from tests.sandbox.helpers import claims, problem_body, token_request

SUBDOMAIN_PATH = "/oauth2/account/current/subdomain"


def moved_to(sb):
    """Move the account to ``localhost:<port>``; requests to ``127.0.0.1:<port>`` now use the old host."""
    domain = "localhost:" + str(urlsplit(sb.url).port)
    assert sb.configure(domain=domain)["domain"] == domain
    return domain


def lookup(sb, headers):
    return requests.get(sb.url + SUBDOMAIN_PATH, headers=headers, timeout=5)


def test_without_a_domain_any_host_is_the_accounts(sb):
    assert sb.configure()["domain"] == ""
    assert sb.api("GET", "account", headers={"Host": "elsewhere.example:1"}).status_code == 200


def test_the_api_on_the_old_host_answers_401(sb):
    token = sb.token()
    domain = moved_to(sb)
    resp = sb.api("GET", "leads", token=token)
    assert resp.status_code == 401
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json() == problem_body(401, "Unauthorized", "Invalid user name or password")
    assert sb.api("GET", "account", token=token, headers={"Host": domain}).status_code == 200


def test_the_token_endpoint_on_the_old_host_answers_404_account_not_found(sb):
    code = sb.mint_code()
    domain = moved_to(sb)
    resp = token_request(sb, code=code)
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json() == problem_body(404, "Not Found", "Account not found")
    assert token_request(sb, headers={"Host": domain}, code=code).status_code == 200


def test_the_subdomain_lookup_answers_on_any_host_with_the_new_domain(sb):
    refresh_token = sb.exchange_code()["refresh_token"]
    domain = moved_to(sb)
    resp = lookup(sb, {"X-Refresh-Token": refresh_token})
    assert resp.status_code == 200
    assert resp.json() == {"id": 31000001, "subdomain": "demo", "domain": domain, "top_level_domain": "ru"}


def test_the_subdomain_lookup_names_the_request_host_when_no_domain_is_set(sb):
    refresh_token = sb.exchange_code()["refresh_token"]
    body = lookup(sb, {"X-Refresh-Token": refresh_token}).json()
    assert body["domain"] == urlsplit(sb.url).netloc and body["subdomain"] == "demo"


def test_the_subdomain_lookup_needs_a_live_refresh_token_of_the_account(sb):
    refresh_token = sb.exchange_code()["refresh_token"]
    moved_to(sb)
    for headers in ({}, {"X-Refresh-Token": "def502nonsense"}):
        resp = lookup(sb, headers)
        assert resp.status_code == 401 and resp.json()["detail"] == "Invalid user name or password"
    sb.control("POST", "tokens/revoke", {"token": refresh_token})
    assert lookup(sb, {"X-Refresh-Token": refresh_token}).status_code == 401


def test_access_tokens_carry_the_api_domain_the_sandbox_listens_on(sb):
    listening = urlsplit(sb.url).netloc
    assert claims(sb.exchange_code()["access_token"])["api_domain"] == listening
    assert claims(sb.long_lived_token())["api_domain"] == listening


def test_reset_forgets_the_domain(sb):
    moved_to(sb)
    sb.reset()
    assert sb.api("GET", "account").status_code == 200
