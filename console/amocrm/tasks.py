"""django-q2 entry points of the AmoCRM integration: each takes ids, calls one service, returns a summary.

They are enqueued by dotted path (``console.amocrm.tasks.<name>``) through ``console.amocrm.queue`` and by
the schedules of ``console.amocrm.schedules``.
"""

from __future__ import annotations

from console.amocrm import queue
from console.amocrm.account.loss_reasons import loss_reasons_refresh
from console.amocrm.account.oauth import token_refresh_if_due
from console.amocrm.account.setup import account_disconnect_finish, account_setup
from console.amocrm.account.users import users_refresh
from console.amocrm.account.webhook_health import webhook_health_check
from console.amocrm.alerts import alerts_check
from console.amocrm.inbound.inbox import (
    inbox_process_pending,
    inbox_prune,
    inbox_replay,
    inbox_requeue_pending,
)
from console.amocrm.inbound.reconcile import leads_reconcile
from console.amocrm.outbound import contacts, detached, retries
from console.amocrm.outbound.controls import order_link_run
from console.amocrm.outbound.engine import order_sync_run, orders_sync_run
from console.amocrm.outbound.exchanges import exchanges_prune

# --- the connected account ----------------------------------------------------------------------------------


def refresh_token_task(connection_id: int = 1) -> bool:
    """Daily: keep the refresh token alive (``account.oauth.token_refresh_if_due``)."""
    return token_refresh_if_due(connection_id=connection_id)


def account_setup_task(connection_id: int = 1) -> str:
    """Fields, catalog, pipelines, stage map and webhook (``account.setup.account_setup``), then the loss
    reasons the cancel form offers."""
    summary = account_setup(connection_id=connection_id).summary()
    queue.enqueue(LOSS_REASONS_TASK)
    return summary


LOSS_REASONS_TASK = "console.amocrm.tasks.loss_reasons_refresh_task"


def loss_reasons_refresh_task() -> str:
    """Hourly and after account setup: the account's loss reasons (``account.loss_reasons``)."""
    return f"{loss_reasons_refresh()} loss reasons"


def users_refresh_task() -> str:
    """Hourly and by the users page's button: the account's amoCRM users, linked by e-mail."""
    report = users_refresh()
    return f"{report.stored} users, {report.linked} newly linked, full list: {report.full_list}"


def account_disconnect_task(connection_id: int = 1) -> str:
    """After a disconnect: remove our webhook from amoCRM, then forget the tokens."""
    return account_disconnect_finish(connection_id=connection_id)


# --- orders -> deals ----------------------------------------------------------------------------------------


def order_sync_task(order_id: int, trigger: str = "") -> str | None:
    """Sync one order (a collapsed burst of changes)."""
    return order_sync_run(order_id=order_id, trigger=trigger)


def orders_sync_bulk_task(order_ids: list[int], trigger: str = "bulk") -> dict[int, str]:
    """Sync many orders sharing batch calls."""
    return orders_sync_run(order_ids=order_ids, trigger=trigger)


def order_link_task(order_id: int, lead_id: int, trigger: str = "") -> str:
    """Link an order to an existing deal, then push it."""
    return order_link_run(order_id=order_id, lead_id=lead_id, trigger=trigger)


def sync_due_retries() -> int:
    """Every minute: enqueue the orders whose retry is due (and detached deals, pending contact edits), and
    take back webhook deliveries whose processing task was lost."""
    inbox_requeue_pending()
    if retries.connection_is_healthy():
        if detached.detached_leads_due():
            queue.enqueue(detached.DETACHED_TASK)
        if contacts.contacts_pending():
            queue.enqueue(contacts.CONTACTS_TASK)
    return retries.sync_due_retries()


def contacts_sync_task() -> int:
    """Push the pending customer and company edits to their amoCRM contacts and companies."""
    return contacts.contacts_sync_run()


def detached_leads_task() -> int:
    """Tell amoCRM about deals whose order was deleted outright or unlinked."""
    return detached.detached_leads_run()


def prune_sync_log() -> int:
    """Daily: delete old sync log rows and the requests and answers kept past ``AMOCRM_EXCHANGE_DAYS``."""
    return retries.prune_sync_log() + exchanges_prune()


# --- deals -> orders ----------------------------------------------------------------------------------------


def webhook_process_pending_task(holder: str = "") -> int:
    """Process the pending webhook deliveries (one task per burst of deliveries; ``holder``: its lease)."""
    return inbox_process_pending(holder=holder)


def webhook_replay_task(inbox_id: int) -> str:
    """Process one stored delivery again (support's replay)."""
    return inbox_replay(inbox_id=inbox_id).outcome


def webhook_inbox_prune_task() -> int:
    """Daily: delete old processed deliveries."""
    return inbox_prune()


def reconcile_task() -> str:
    """Every few minutes: apply the leads changed in amoCRM."""
    return leads_reconcile(trigger="schedule").summary()


def webhook_health_task(connection_id: int = 1) -> str:
    """Every few minutes: check our webhook subscription in amoCRM and repair it
    (``account.webhook_health``)."""
    return webhook_health_check(connection_id=connection_id).state


def alerts_check_task() -> str:
    """Every few minutes, and at once after the connection breaks: open and clear alert incidents, mailing
    the administrators once for each (``amocrm.alerts``)."""
    return alerts_check().summary()
