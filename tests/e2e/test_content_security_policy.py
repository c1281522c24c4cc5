"""Issue 18 item 5: every page carries a Content-Security-Policy that the console's own pages satisfy.

Chromium loads the main pages as an administrator, with the console's data on them, and reports every
violation: to the page's console ("Refused to ... because it violates the following Content Security Policy
directive") and as a ``securitypolicyviolation`` event, which a listener added before any page script keeps.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("console_account"),
]

PAGES = [
    ("dashboard", "/"),
    ("orders list", "/orders/"),
    ("order page", "/orders/{order}/"),
    ("new order form", "/orders/new/"),
    ("connection", "/connection/"),
    ("sync log", "/sync/log/"),
    ("webhook inbox", "/webhooks/"),
    ("stage map", "/stage-map/"),
    ("users", "/users/"),
]
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def watch(tab: Any) -> list[str]:
    """Console messages of ``tab`` that report a CSP violation (gathered from now on)."""
    seen: list[str] = []
    tab.on(
        "console",
        lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None,
    )
    tab.add_init_script(RECORD_VIOLATIONS)
    return seen


def test_the_main_console_pages_load_with_no_csp_violation(
    browser: Any, live_server: Any, sign_in: Any, make_order: Any
) -> None:
    order = make_order()
    login = browser.new_page()
    login_seen = watch(login)
    answer = login.goto(f"{live_server.url}/login/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    login.close()
    tab = sign_in("admin")
    seen = watch(tab)
    for name, address in PAGES:
        answer = tab.goto(live_server.url + address.format(order=order.pk))
        assert answer.status == 200, name
        assert "content-security-policy" in answer.headers, name
        tab.wait_for_load_state("networkidle")
        events = tab.evaluate("window.__cspViolations")
        assert not events, (name, events)
    assert not login_seen and not seen, login_seen + seen
