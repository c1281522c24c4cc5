"""django-q2 entry points of the AmoCRM integration: load ids, call a service, nothing else."""

from __future__ import annotations

# --- Connection (owner: client) ---------------------------------------------------------------------------
# NOTE: rebuilt by the "sync" helper after it overwrote this file by mistake; owners, please check.


def refresh_token_task(connection_id: int = 1) -> bool:
    """Daily: keep the refresh token alive; see ``console.amocrm.oauth.token_refresh_if_due``."""
    from console.amocrm.oauth import token_refresh_if_due

    return token_refresh_if_due(connection_id=connection_id)


def account_setup_task(connection_id: int = 1) -> str:
    """Run account setup; see ``console.amocrm.setup.account_setup``."""
    from console.amocrm.setup import account_setup

    return str(account_setup(connection_id=connection_id))


# --- Webhooks and reconciliation (owner: webhooks) ---------------------------------------------------------


def webhook_process_task(inbox_id: int) -> str:
    """Process one stored webhook delivery; see ``console.amocrm.webhooks.inbox_process``."""
    from console.amocrm.webhooks import inbox_process

    return inbox_process(inbox_id=inbox_id).outcome


def webhook_inbox_prune_task() -> int:
    """Daily: delete old processed deliveries; see ``console.amocrm.webhooks.inbox_prune``."""
    from console.amocrm.webhooks import inbox_prune

    return inbox_prune()


def reconcile_task() -> str:
    """Every few minutes: requeue inbox rows left pending, then apply leads changed in amoCRM; see
    ``console.amocrm.webhooks.inbox_requeue_pending`` and ``console.amocrm.reconcile.leads_reconcile``."""
    from console.amocrm.reconcile import leads_reconcile
    from console.amocrm.webhooks import inbox_requeue_pending

    requeued = inbox_requeue_pending()
    return f"{leads_reconcile(trigger='schedule').summary()}; {requeued} pending deliveries requeued"


# --- Sync engine (owner: sync) -----------------------------------------------------------------------------


def order_sync_task(order_id: int, trigger: str = "") -> str | None:
    """Sync one order (collapsed burst of changes); see ``console.amocrm.sync.order_sync_run``."""
    from console.amocrm.sync import order_sync_run

    return order_sync_run(order_id=order_id, trigger=trigger)


def orders_sync_bulk_task(order_ids: list[int], trigger: str = "bulk") -> dict[int, str]:
    """Sync many orders sharing batch calls; see ``console.amocrm.sync.orders_sync_run``."""
    from console.amocrm.sync import orders_sync_run

    return orders_sync_run(order_ids=order_ids, trigger=trigger)


def order_link_task(order_id: int, lead_id: int, trigger: str = "") -> str:
    """Link an order to an existing lead; see ``console.amocrm.sync.order_link_run``."""
    from console.amocrm.sync import order_link_run

    return order_link_run(order_id=order_id, lead_id=lead_id, trigger=trigger)


def sync_due_retries() -> int:
    """Every minute: enqueue orders whose retry is due; see ``console.amocrm.sync.sync_due_retries``."""
    from console.amocrm import sync

    return sync.sync_due_retries()


def prune_sync_log() -> int:
    """Daily: delete old sync log rows; see ``console.amocrm.sync.prune_sync_log``."""
    from console.amocrm import sync

    return sync.prune_sync_log()


# --- end of section "sync" ---------------------------------------------------------------------------------
