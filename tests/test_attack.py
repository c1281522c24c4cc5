"""The attack script (``tests/attack.py``) cannot rot: a subset of its checks (roles, CSRF, XSS, bad API
input, non-UTF-8 tokens, over-long ids, the CSP header, secrets) runs here against the live test server,
over real HTTP, and holds. The whole run, webhooks included, is ``python -m tests.attack``."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from knox.models import AuthToken

from tests.attack import PASSWORD, ROLES, Target, attack
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db(transaction=True)

SUBSET = ["roles", "csrf", "xss", "bad-input", "tokens", "headers"]


def test_the_attack_scripts_checks_hold_against_the_live_console(
    live_server: Any, roles: None, make_order: Any
) -> None:
    tokens = {}
    for role in ROLES:
        user = make_user(f"attack-{role}", role="" if role == "nobody" else role)
        user.set_password(PASSWORD)
        user.save()
        tokens[role] = AuthToken.objects.create(user=user)[1]
    target = Target(url=live_server.url, tokens=tokens, order=make_order().pk, secrets=[settings.SECRET_KEY])
    tally = attack(target, SUBSET)
    assert tally.report() == 0, dict(tally.failed)
    assert sum(tally.held.values()) > 250
