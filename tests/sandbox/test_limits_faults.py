"""Rate limit and block, fault injection and the request log."""

from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.helpers import create


def burst(sandbox, n, path="account"):
    return [sandbox.api("GET", path).status_code for _ in range(n)]


def test_more_than_seven_requests_a_second_get_429_with_retry_after(sandbox):
    token = sandbox.token()
    codes = burst(sandbox, 12)
    assert codes[:7] == [200] * 7 and 429 in codes
    resp = sandbox.api("GET", "account", token=token)
    if resp.status_code == 429:
        assert resp.json()["retry_after"] == 1
        assert (
            resp.json()["title"] == "Too Many Requests" and resp.json()["type"] == "https://httpstatus.es/429"
        )
    time.sleep(1.05)
    assert sandbox.api("GET", "account").status_code == 200


def test_the_rate_limit_is_configurable_and_can_be_switched_off(sandbox):
    sandbox.configure(rate_limit=2)
    assert burst(sandbox, 3)[2] == 429
    sandbox.configure(rate_limit=0)
    assert set(burst(sandbox, 20)) == {200}


def test_repeated_excess_blocks_with_an_nginx_403_until_unblocked(sandbox):
    sandbox.configure(rate_limit=1, block_after=3, block_window=10)
    codes = burst(sandbox, 8)
    assert codes[0] == 200 and codes.count(429) == 4 and codes[-1] == 403
    resp = sandbox.api("GET", "leads")
    assert resp.status_code == 403
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "<center><h1>403 Forbidden</h1></center>" in resp.text and "nginx" in resp.text
    token_resp = requests.post(sandbox.url + "/oauth2/access_token", json={})
    assert token_resp.status_code == 403
    assert sandbox.stats()["blocked"] is True
    assert requests.get(sandbox.url + "/_sandbox/board").status_code == 200
    sandbox.control("POST", "unblock")
    time.sleep(1.05)
    assert sandbox.api("GET", "account").status_code == 200


@pytest.mark.parametrize(
    ("kind", "status", "ctype"),
    [
        ("429", 429, "application/problem+json"),
        ("500", 500, "application/problem+json"),
        ("502", 502, "text/html"),
        ("504", 504, "text/html"),
        ("401", 401, "application/problem+json"),
        ("unpaid", 402, "application/problem+json"),
        ("blocked", 403, "text/html"),
    ],
)
def test_next_n_faults_answer_once_then_stop(sb, kind, status, ctype):
    sb.fault(kind=kind, times=1, path="/api/v4/account")
    first = sb.api("GET", "account")
    assert first.status_code == status and first.headers["Content-Type"].startswith(ctype)
    assert sb.api("GET", "account").status_code == 200


def test_a_500_fault_has_the_documented_body(sb):
    sb.fault(kind="500", times=1)
    body = sb.api("GET", "leads").json()
    assert body["title"] == "ErrInternalServer" and body["status"] == 500 and body["trace_id"]


def test_faults_can_be_scoped_by_method_and_path(sb):
    sb.fault(kind="500", times=5, method="POST", path="/api/v4/leads")
    assert sb.api("GET", "leads").status_code == 204
    assert sb.api("POST", "contacts", json=[{"name": "x"}]).status_code == 200
    assert sb.api("POST", "leads", json=[{"name": "x"}]).status_code == 500
    assert sb.control("GET", "faults")["faults"][0]["times"] == 4
    sb.control("DELETE", "faults")
    assert sb.api("POST", "leads", json=[{"name": "x"}]).status_code == 200


def test_probability_faults(sb):
    sb.fault(kind="502", probability=1.0)
    assert {sb.api("GET", "account").status_code for _ in range(3)} == {502}
    sb.control("DELETE", "faults")
    sb.fault(kind="502", probability=0.0)
    assert sb.api("GET", "account").status_code == 200


def test_slow_faults_delay_the_answer(sb):
    sb.fault(kind="slow", seconds=0.6, times=1)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        sb.api("GET", "account", timeout=0.3)
    assert time.monotonic() - started < 0.6
    time.sleep(0.4)
    assert sb.api("GET", "account").status_code == 200


def test_a_dropped_connection_gets_no_answer(sb):
    sb.fault(kind="drop", times=1, method="POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        sb.api("POST", "leads", json=[{"name": "lost"}])
    assert sb.stats()["leads"] == 0


def test_drop_after_processing_creates_but_the_client_never_hears(sb):
    sb.fault(kind="drop_after", times=1, method="POST", path="/api/v4/leads")
    with pytest.raises(requests.exceptions.ConnectionError):
        sb.api("POST", "leads", json=[{"name": "created anyway"}])
    assert sb.stats()["leads"] == 1
    assert sb.api("GET", "leads", params={"query": "created anyway"}).status_code == 200


def test_unknown_fault_kinds_are_refused(sb):
    assert sb.http.post(sb.url + "/_sandbox/faults", json={"kind": "meteor"}).status_code == 400


def test_the_request_log_counts_per_method_and_path_and_reports_the_peak_rate(sb):
    sb.control("POST", "requests/clear")
    for _ in range(5):
        sb.api("GET", "account")
    (lead_id,) = create(sb, "leads", [{"name": "x"}])
    sb.api("GET", f"leads/{lead_id}")
    report = sb.requests()
    assert report["counts"]["GET /api/v4/account"] == 5
    assert report["counts"]["POST /api/v4/leads"] == 1
    assert report["routes"]["GET /api/v4/leads/{id}"] == 1
    assert report["total"] == 7 and report["peak_rps"] >= 5
    entry = report["requests"][0]
    assert {"t", "method", "path", "status", "request_id"} <= set(entry) and entry["status"] == 200
    assert not any(e["path"].startswith("/_sandbox") for e in report["requests"])


def test_a_429_fault_can_answer_with_a_gateway_html_body(sb):
    sb.fault(kind="429", html=True, times=1)
    resp = sb.api("GET", "account")
    assert resp.status_code == 429 and resp.headers["Content-Type"].startswith("text/html")
