"""The webhook health check's result as the connection page and the dashboard show it."""

from __future__ import annotations

from typing import Any

from console.amocrm.models import WebhookHealth
from console.web.reasons import shown_reasons

# The badge class of each state (classes of static/console/console.css).
BADGES = {
    WebhookHealth.State.OK: "ok",
    WebhookHealth.State.REPAIRED: "retry",
    WebhookHealth.State.BROKEN: "failed",
    WebhookHealth.State.UNCHECKED: "skipped",
}


def webhook_health_shown(health: WebhookHealth | None) -> dict[str, Any] | None:
    """The last check (``health``, as the caller loaded it) in words, or None before the first check."""
    if health is None:
        return None
    return {
        "state": health.state,
        "badge": BADGES.get(health.state, "skipped"),
        "label": WebhookHealth.State(health.state).label,
        "reasons": shown_reasons(health.reasons, {}),
        "checked_at": health.checked_at,
        "repaired_at": health.repaired_at,
        "broken_since": health.broken_since,
    }
