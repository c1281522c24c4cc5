"""The hostile run of issue 18, kept: role checks on every console and API route for each role, CSRF on
unsafe methods, XSS probes in fields, bad inputs to the API, the console forms and the webhook endpoint
(huge and millisecond timestamps, a 900-item poison delivery), non-UTF-8 tokens, over-long ids, the
Content-Security-Policy header and secrets absent from pages.

Run: ``python -m tests.attack`` (starts a sandbox and a console of its own, the way
``tests.fixtures.stack`` does for the benchmarks) or ``python -m tests.attack --base-url URL`` against a
running console that has the users ``attack-<role>`` (password ``ATTACK_PASSWORD``), their API tokens in
``ATTACK_TOKEN_<ROLE>``, and, for the webhook checks, ``ATTACK_WEBHOOK_URL``.
It prints, per category, the checks run, held and failed, and exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import requests

PASSWORD = os.environ.get("ATTACK_PASSWORD", "Attack-pass-0123")
ROLES = ("nobody", "support", "manager", "admin")  # nobody: a staff user with no console role
# Console pages (GET) and the console action each needs (console/roles.py).
PAGES = {
    "/": "view",
    "/orders/": "view",
    "/orders/{order}/": "view",
    "/orders/new/": "orders.edit",
    "/sync/log/": "view",
    "/sync/failed/": "view",
    "/webhooks/": "view",
    "/connection/": "setup.view",
    "/stage-map/": "setup.view",
    "/users/": "setup",
}
ALLOWED = {
    "view": {"support", "manager", "admin"},
    "orders.edit": {"manager", "admin"},
    "setup.view": {"support", "admin"},
    "setup": {"admin"},
}
UNSAFE_CONSOLE = [
    "/orders/{order}/action/",
    "/connection/pause/",
    "/webhooks/rotate-secret/",
    "/users/new/",
    "/sync/failed/retry/",
    "/stage-map/",
    "/orders/new/",
]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
NON_UTF8 = [b"Token \xff", b"Bearer \xe9t\xe9", b"Token \xc3("]
OVERLONG = "99999999999999999999999999"

SETUP = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from knox.models import AuthToken
from console.amocrm.models import AmoConnection
out = {{"tokens": {{}}}}
for role in {roles!r}:
    user = get_user_model().objects.create_user("attack-" + role, password={password!r}, is_staff=True)
    if role != "nobody":
        user.groups.add(Group.objects.get(name=role))
    out["tokens"][role] = AuthToken.objects.create(user=user)[1]
c = AmoConnection.get_solo()
out.update(secret=c.webhook_secret, account_id=c.account_id, subdomain=c.subdomain,
           client_secret=c.client_secret or "")
print(json.dumps(out))
"""


@dataclass
class Tally:
    """Checks run, held and failed per category; the failures' descriptions."""

    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def check(self, category: str, ok: bool, what: str) -> bool:
        if ok:
            self.held[category] += 1
        else:
            self.failed[category].append(what)
        return ok

    def report(self) -> int:
        categories = sorted(set(self.held) | set(self.failed))
        print(f"{'category':<12} {'run':>5} {'held':>5} {'failed':>6}")
        for name in categories:
            held, failed = self.held[name], len(self.failed[name])
            print(f"{name:<12} {held + failed:>5} {held:>5} {failed:>6}")
        for name in categories:
            for what in self.failed[name][:10]:
                print(f"FAILED {name}: {what}")
        return 1 if any(self.failed.values()) else 0


@dataclass
class Target:
    """The console under attack: its URL, the role holders' passwords and tokens, the webhook URL."""

    url: str
    tokens: dict[str, str]
    webhook_url: str = ""
    account_id: int = 0
    subdomain: str = ""
    secrets: list[str] = field(default_factory=list)
    order: int = 0
    lead: int = 0  # the order's deal in amoCRM
    sessions: dict[str, requests.Session] = field(default_factory=dict)

    def session(self, role: str) -> requests.Session:
        """A session signed in as ``attack-<role>`` through the login form (``anonymous``: none)."""
        if role not in self.sessions:
            http = requests.Session()
            http.get(self.url + "/login/", timeout=30)
            if role != "anonymous":
                form = {"username": f"attack-{role}", "password": PASSWORD}
                form["csrfmiddlewaretoken"] = http.cookies.get("csrftoken", "")
                http.post(self.url + "/login/", data=form, timeout=30, allow_redirects=False)
            self.sessions[role] = http
        return self.sessions[role]

    def api(self, method: str, path: str, role: str = "", **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if role:
            headers["Authorization"] = f"Token {self.tokens[role]}"
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


def is_json(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").startswith("application/json")


# --- the checks ------------------------------------------------------------------------------------------


def check_roles(target: Target, tally: Tally) -> None:
    """Every console page for each role (anonymous: the login page), and the API's reads and writes."""
    for role in ("anonymous", *ROLES):
        http = target.session(role)
        for page, action in PAGES.items():
            answer = http.get(target.url + page.format(order=target.order), timeout=30, allow_redirects=False)
            expected = {302} if role == "anonymous" else {200} if role in ALLOWED[action] else {403}
            tally.check("roles", answer.status_code in expected, f"{role} GET {page}: {answer.status_code}")
    for role in ROLES:
        for path in ("/api/v1/orders/", "/api/v1/customers/", "/api/v1/companies/"):
            answer = target.api("GET", path, role)
            expected = 200 if role in ALLOWED["view"] else 403
            tally.check(
                "roles", answer.status_code == expected, f"{role} API GET {path}: {answer.status_code}"
            )
        answer = target.api("PATCH", f"/api/v1/orders/{target.order}/", role, json={"comment": f"by {role}"})
        expected = 200 if role in ALLOWED["orders.edit"] else 403
        tally.check("roles", answer.status_code == expected, f"{role} API PATCH order: {answer.status_code}")
        answer = target.api("POST", "/api/v1/companies/", role, json={"name": f"Attack {role}"})
        expected = 201 if role in ALLOWED["orders.edit"] else 403
        tally.check("roles", answer.status_code == expected, f"{role} API POST company: {answer.status_code}")


def check_csrf(target: Target, tally: Tally) -> None:
    """Unsafe methods without the CSRF token are refused (403) for every signed-in role."""
    for role in ROLES:
        http = target.session(role)
        for path in [*UNSAFE_CONSOLE, "/logout/"]:
            answer = http.post(target.url + path.format(order=target.order), data={"x": "1"}, timeout=30,
                               allow_redirects=False)  # fmt: skip
            what = f"{role} POST {path} without token: {answer.status_code}"
            tally.check("csrf", answer.status_code == 403, what)
        for method, path in [("POST", "/api/v1/companies/"), ("PATCH", f"/api/v1/orders/{target.order}/")]:
            answer = http.request(method, target.url + path, json={"name": "csrf"}, timeout=30)
            tally.check(
                "csrf", answer.status_code == 403, f"{role} session {method} {path}: {answer.status_code}"
            )


def check_xss(target: Target, tally: Tally) -> None:
    """Script in every field an API caller fills comes back escaped on the console's pages."""
    answer = target.api("PATCH", f"/api/v1/orders/{target.order}/", "admin", json={"comment": XSS})
    tally.check("xss", answer.status_code == 200, f"PATCH comment: {answer.status_code}")
    answer = target.api("POST", "/api/v1/companies/", "admin", json={"name": XSS, "legal_name": XSS})
    tally.check("xss", answer.status_code in (201, 400), f"POST company: {answer.status_code}")
    http = target.session("admin")
    for page in ("/orders/", f"/orders/{target.order}/", "/orders/?search=" + quote_plus(XSS), "/"):
        text = http.get(target.url + page, timeout=30).text
        tally.check("xss", "<script>alert" not in text and "<img src=x" not in text, f"raw script on {page}")


def check_bad_api_input(target: Target, tally: Tally) -> None:
    """Malformed bodies, huge numbers and odd types: a JSON 4xx, never a 500 nor an HTML page."""
    bodies: list[tuple[str, str, Any]] = [
        ("POST", "/api/v1/orders/", "not json"),
        ("POST", "/api/v1/orders/", json.dumps({"items": [{"sku": "CL-000", "quantity": 10**30}]})),
        ("POST", "/api/v1/orders/", json.dumps({"installation_date": "9999-99-99", "items": "x"})),
        ("POST", "/api/v1/orders/", json.dumps([1, 2, 3])),
        ("POST", "/api/v1/orders/", json.dumps({"customer": {"phone": "\x00" * 50}, "items": []})),
        ("POST", "/api/v1/orders/", "{" * 5000),
        ("GET", "/api/v1/orders/?limit=-1&offset=99999999999999999999", None),
        ("GET", "/api/v1/orders/?customer=" + "9" * 40, None),
        ("POST", "/api/v1/customers/", json.dumps({"phone": "+7" + "9" * 200})),
    ]
    for method, path, data in bodies:
        answer = target.api(method, path, "manager", data=data, headers={"Content-Type": "application/json"})
        ok = answer.status_code < 500 and is_json(answer)
        tally.check("bad-input", ok, f"{method} {path} {str(data)[:40]!r}: {answer.status_code}")
    answer = target.api("POST", "/api/v1/orders/", data="x" * (3 * 1024 * 1024),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    tally.check(
        "bad-input", answer.status_code == 413 and is_json(answer), f"3 MB body: {answer.status_code}"
    )
    http = target.session("manager")
    form = {"csrfmiddlewaretoken": http.cookies.get("csrftoken", ""), "installation_date": "31.31.31",
            "items-TOTAL_FORMS": "99999999999", "items-INITIAL_FORMS": "x"}  # fmt: skip
    answer = http.post(target.url + "/orders/new/", data=form, timeout=30, allow_redirects=False)
    tally.check("bad-input", answer.status_code < 500, f"console order form garbage: {answer.status_code}")


def check_tokens_and_ids(target: Target, tally: Tally) -> None:
    """Non-UTF-8 tokens on every API path and over-long ids with unsafe methods: JSON answers, no 500."""
    paths = [("GET", "/api/v1/orders/"), ("POST", "/api/v1/orders/"), ("GET", "/api/v1/orders/track/abcdef/"),
             ("GET", "/api/v1/customers/"), ("GET", "/api/v1/companies/")]  # fmt: skip
    for header in NON_UTF8:
        for method, path in paths:
            answer = target.api(method, path, json={}, headers={"Authorization": header})
            ok = answer.status_code in (401, 403) and is_json(answer)
            tally.check("tokens", ok, f"{header!r} {method} {path}: {answer.status_code}")
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        for path in (f"/api/v1/orders/{OVERLONG}/", f"/api/v1/companies/{OVERLONG}/"):
            answer = requests.request(method, target.url + path, json={}, timeout=30)
            ok = answer.status_code == 404 and is_json(answer)
            tally.check("ids", ok, f"{method} {path}: {answer.status_code}")


def check_headers_and_secrets(target: Target, tally: Tally) -> None:
    """A Content-Security-Policy on every page; no secret on any page any role sees."""
    for role in ("anonymous", *ROLES):
        http = target.session(role)
        for page in ["/login/", *PAGES]:
            answer = http.get(target.url + page.format(order=target.order), timeout=30)
            policy = answer.headers.get("Content-Security-Policy", "")
            tally.check("csp", "script-src 'self'" in policy, f"{role} {page}: no CSP")
            for secret in target.secrets:
                tally.check("secrets", secret not in answer.text, f"{role} {page} shows a secret")


# --- the webhook endpoint ----------------------------------------------------------------------------------


def delivery(target: Target, leads: list[dict[str, Any]]) -> str:
    """A ``leads[status]`` body with these leads."""
    pairs = [(f"leads[status][{n}][{k}]", str(v)) for n, lead in enumerate(leads) for k, v in lead.items()]
    pairs += [("account[subdomain]", target.subdomain), ("account[id]", str(target.account_id))]
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def post_hook(target: Target, body: str | bytes, url: str = "") -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return requests.post(url or target.webhook_url, data=body, headers=headers, timeout=30)


def check_webhooks(target: Target, tally: Tally, *, poison: bool = True) -> None:
    """Garbage, a wrong secret, huge and millisecond timestamps (and, unless ``poison=False``, a 900-item
    delivery followed by a normal one that must still be processed): never a 500 on the console's pages."""
    if not target.webhook_url:
        return
    wrong = target.webhook_url.rstrip("/").rsplit("/", 1)[0] + "/wrong-secret/"
    tally.check("webhooks", post_hook(target, "a=1", wrong).status_code == 404, "wrong secret not a 404")
    for body in ("", "leads[status][0][id]=" + "9" * 50, b"\xff\xfe" * 100, "%" * 1000):
        answer = post_hook(target, body)
        tally.check("webhooks", answer.status_code < 500, f"garbage {body[:20]!r}: {answer.status_code}")
    for stamp in (100000000000000, 1733500000000, -1):
        lead = {
            "id": 1,
            "status_id": 1,
            "pipeline_id": 1,
            "last_modified": stamp,
            "account_id": target.account_id,
        }
        answer = post_hook(target, delivery(target, [lead]))
        tally.check("timestamps", answer.status_code < 500, f"stamp {stamp}: intake {answer.status_code}")
    time.sleep(1)  # the attack script, not the product: let the inline or queued processing run
    pages_after(target, tally, "timestamps")
    if poison:
        check_poison(target, tally)


def pages_after(target: Target, tally: Tally, category: str) -> None:
    http = target.session("admin")
    listing = http.get(target.url + "/webhooks/", timeout=30)
    tally.check(
        category, listing.status_code == 200, f"/webhooks/ after the deliveries: {listing.status_code}"
    )
    for page in (
        "/",
        f"/orders/{target.order}/",
        "/webhooks/?outcome=ignored",
        "/webhooks/1/",
        "/webhooks/2/",
    ):
        answer = http.get(target.url + page, timeout=30)
        tally.check(category, answer.status_code < 500, f"{page} after the deliveries: {answer.status_code}")


def check_poison(target: Target, tally: Tally, *, within: float = 60.0) -> None:
    """900 items on one lead with no last_modified, then one ordinary delivery: it is processed in time."""
    leads = [{"id": target.lead, "status_id": 1, "pipeline_id": 1} for _ in range(900)]
    started = time.monotonic()
    answer = post_hook(target, delivery(target, leads))
    tally.check("poison", answer.status_code == 200, f"900-item delivery: {answer.status_code}")
    tally.check("poison", time.monotonic() - started < 2, "900-item delivery answered slower than 2 s")
    marker = int(time.time())
    later = {"id": 987654, "status_id": 1, "pipeline_id": 1, "last_modified": marker}
    post_hook(target, delivery(target, [later]))
    http = target.session("admin")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        answer = http.get(target.url + "/webhooks/?outcome=pending", timeout=30)
        if answer.status_code == 200 and "987654" not in answer.text:
            break
        time.sleep(1)
    else:
        tally.check("poison", False, f"a delivery after the poison one still pending after {within:.0f} s")
        return
    tally.check("poison", True, "")


CHECKS: dict[str, Callable[[Target, Tally], None]] = {
    "roles": check_roles,
    "csrf": check_csrf,
    "xss": check_xss,
    "bad-input": check_bad_api_input,
    "tokens": check_tokens_and_ids,
    "headers": check_headers_and_secrets,
    "webhooks": check_webhooks,
}


def attack(target: Target, names: list[str] | None = None) -> Tally:
    """Run the checks ``names`` (every one by default) against ``target``; returns the tally."""
    tally = Tally()
    for name in names or list(CHECKS):
        CHECKS[name](target, tally)
    return tally


# --- starting a console of our own -------------------------------------------------------------------------


@contextmanager
def own_console() -> Iterator[Target]:
    """A sandbox and a console (gunicorn + one cluster, embedded mode) with the attack's users and tokens."""
    from tests.fixtures.sandbox import SandboxHandle, start_sandbox
    from tests.fixtures.stack import Stack

    proc, url = start_sandbox()
    try:
        # amoCRM's own rate limit (7/s), under which the poison delivery's re-reads stalled the queue.
        with Stack(SandboxHandle(url), mode="embedded", webhooks=True, rate_limit=7) as stack:
            found = json.loads(
                stack.shell(SETUP.format(roles=ROLES, password=PASSWORD)).strip().splitlines()[-1]
            )
            posted = stack.post_order(phone="+79990000001")
            stack.wait_synced(1)
            lead = (stack.lead_for(posted["number"]) or {}).get("id", 1)
            target = Target(url=stack.url, tokens=found["tokens"], order=posted["id"], lead=lead,
                            webhook_url=f"{stack.url}/amocrm/webhook/{found['secret']}/",
                            account_id=found["account_id"], subdomain=found["subdomain"],
                            secrets=[s for s in (found["secret"], found["client_secret"]) if s])  # fmt: skip
            yield target
    finally:
        proc.kill()
        proc.wait(timeout=10)


def external_console(url: str) -> Target:
    """A running console: the API has no login, so the role holders' tokens come from the environment
    (``ATTACK_TOKEN_<ROLE>``), the webhook URL from ``ATTACK_WEBHOOK_URL``, an order from ``ATTACK_ORDER``
    and its amoCRM lead from ``ATTACK_LEAD``."""
    tokens = {role: os.environ.get(f"ATTACK_TOKEN_{role.upper()}", "") for role in ROLES}
    order, lead = int(os.environ.get("ATTACK_ORDER", "1")), int(os.environ.get("ATTACK_LEAD", "1"))
    hook = os.environ.get("ATTACK_WEBHOOK_URL", "")
    return Target(url=url.rstrip("/"), tokens=tokens, order=order, lead=lead, webhook_url=hook)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.attack", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="", help="a running console (default: start one)")
    parser.add_argument("--only", nargs="*", choices=list(CHECKS), help="run only these checks")
    options = parser.parse_args(argv)
    started = time.monotonic()
    if options.base_url:
        tally = attack(external_console(options.base_url), options.only)
    else:
        with own_console() as target:
            tally = attack(target, options.only)
    status = tally.report()
    print(f"{time.monotonic() - started:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
