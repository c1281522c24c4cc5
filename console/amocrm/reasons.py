"""Why the integration did what it did, stored as data: a code and its parameters, never prose.

A reason is ``{"code": "<code>", "params": {...}}`` (JSON in the database); a record that says several things
holds a list of them. :class:`Code` names every code the integration writes; ``console.web.reasons`` gives
each its words (Russian and English through gettext), and a test fails for a code that has none. Parameters
are plain JSON values (ids, counts, status codes, unix times, amoCRM's own texts); the page renders them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

Reason = dict[str, Any]


class Code(StrEnum):
    # A webhook delivery as a whole (the intake and the inbox).
    DUPLICATE_OF = "duplicate_of"  # id: the first delivery with the same content
    NO_ITEMS = "no_items"
    NO_ACCOUNT = "no_account"
    BODY_TOO_LARGE = "body_too_large"  # size, limit (bytes; absent when the size was not declared)
    UNPARSEABLE = "unparseable"  # error: what the parser said
    COUNTS = "counts"  # counts: {outcome: number} of a delivery with several items
    ITEMS_CAPPED = "items_capped"  # count, limit: items beyond the limit were not processed
    WAITING_CIRCUIT = "waiting_circuit"  # state, error: amoCRM may not be called now
    WAITING_NO_ANSWER = "waiting_no_answer"  # error: amoCRM did not answer
    ATTEMPTS_LOST = "attempts_lost"  # attempts: processing died or timed out this many times
    FAILED = "failed"  # error: an unexpected error (redacted)
    LEGACY = "legacy"  # text: a reason stored as prose before reasons were data (kept as it was)
    # The time a webhook item claims.
    TIME_MILLISECONDS = "time_milliseconds"  # seen: a millisecond stamp, read as seconds
    TIME_OUT_OF_RANGE = "time_out_of_range"  # seen: no plausible time, judged as one without a time
    TIME_AHEAD = "time_ahead"  # seen, minutes: later than our clock allows, not trusted
    # A deal's stage (``inbound.rules``, the stage map).
    ORDER_DELETED = "order_deleted"
    OLDER_THAN_APPLIED = "older_than_applied"  # seen, applied
    OUR_STAGE = "our_stage"  # pipeline_id, status_id
    PUSH_IN_FLIGHT = "push_in_flight"
    LOCAL_STATUS_WINS = "local_status_wins"
    STAGE_AMBIGUOUS = "stage_ambiguous"  # pipeline_id, status_id, statuses
    STAGE_DISABLED = "stage_disabled"  # pipeline_id, status_id
    STAGE_UNMAPPED = "stage_unmapped"  # pipeline_id, status_id
    ALREADY_STATUS = "already_status"  # status
    STATUS_SET = "status_set"  # status, pipeline_id, status_id, verified (re-read from amoCRM first)
    NO_ORDER = "no_order"
    SEVERAL_ORDERS = "several_orders"
    LEAD_GONE = "lead_gone"
    SUPERSEDED = "superseded"
    DEAL_DELETED = "deal_deleted"
    DEAL_RESTORED = "deal_restored"
    NO_LEAD_ID = "no_lead_id"
    NO_STAGE = "no_stage"
    NOTES_NOT_SYNCED = "notes_not_synced"  # entity
    CONTACTS_NOT_SYNCED = "contacts_not_synced"
    COMPANIES_NOT_SYNCED = "companies_not_synced"
    NOT_SYNCED = "not_synced"  # entity, action: an event we do not know
    # A deal created in amoCRM becoming a draft order (``inbound.drafts``).
    DRAFT_CREATED = "draft_created"  # number, lines
    DRAFT_OWN_DEAL = "draft_own_deal"  # number: a deal the console created (its order number is set)
    DRAFT_EXISTS = "draft_exists"
    DRAFT_NO_CONTACT = "draft_no_contact"
    DRAFT_INVALID = "draft_invalid"  # fields: the order fields the deal's data failed
    # A contact's or company's edits in amoCRM (``inbound.parties``).
    NO_ENTITY_ID = "no_entity_id"
    PARTY_NOT_LINKED = "party_not_linked"
    PARTY_GONE = "party_gone"
    PARTY_DELETED = "party_deleted"
    PARTY_SAME = "party_same"
    PARTY_TAKEN = "party_taken"  # fields
    PARTY_CONFLICT = "party_conflict"  # fields
    PARTY_REFUSED = "party_refused"  # fields
    # A deal's payment (``inbound.payments``).
    PAYMENT_LOCAL_WINS = "payment_local_wins"
    PAYMENT_INVALID = "payment_invalid"  # errors
    PAYMENT_SET = "payment_set"  # amount, payment
    # A deal's responsible user (``inbound.responsible``).
    RESPONSIBLE_SET = "responsible_set"  # user: the console user now responsible
    RESPONSIBLE_UNKNOWN_USER = (
        "responsible_unknown_user"  # amo_user: an amoCRM user linked to no console user
    )
    RESPONSIBLE_LOCAL_WINS = "responsible_local_wins"
    # A lost deal's reason (``inbound.loss``).
    LOSS_REASON_SET = "loss_reason_set"  # reason: its name
    # The order's history (``console.web.timeline``): its manager changed, in the console or in amoCRM.
    RESPONSIBLE_CHANGED = "responsible_changed"  # from_user, to_user: user names ("" for nobody)
    # Our webhook subscription in amoCRM (``account.webhook_health``).
    WEBHOOK_OK = "webhook_ok"
    WEBHOOK_MISSING = "webhook_missing"  # not registered in amoCRM: registered again
    WEBHOOK_EVENTS_MISSING = "webhook_events_missing"  # events: the ones it lacked, subscribed again
    WEBHOOK_DISABLED = "webhook_disabled"  # amoCRM had disabled it: posted again
    WEBHOOK_RECREATED = "webhook_recreated"  # still disabled after posting again: deleted and created
    WEBHOOK_STILL_WRONG = "webhook_still_wrong"  # followed by what is still wrong after the repair
    WEBHOOK_NO_BASE_URL = "webhook_no_base_url"  # AMOCRM_WEBHOOK_BASE_URL is not set
    WEBHOOK_CHECK_ERROR = "webhook_check_error"  # error, http_status: amoCRM's error in the check or repair
    # An alert incident's finding (``amocrm.alerts``).
    ALERT_CONNECTION = "alert_connection"  # connection_state: the circuit's state (blocked, revoked, ...)
    ALERT_FAILED_SYNCS = "alert_failed_syncs"  # count, threshold: orders failed or waiting for a retry
    ALERT_WEBHOOK_SILENCE = "alert_webhook_silence"  # changes, minutes: deal changes no webhook brought

    # A deal's task (``inbound.tasks``).
    NO_TASK_ID = "no_task_id"
    TASK_NOT_OURS = "task_not_ours"
    TASK_DONE = "task_done"  # kind: the order's task is done in amoCRM
    TASK_REOPENED = "task_reopened"  # kind
    TASK_SAME = "task_same"  # kind


def reason(code: Code, **params: Any) -> Reason:
    """One reason: ``reason(Code.OUR_STAGE, pipeline_id=1, status_id=22)``."""
    return {"code": str(code), "params": params}


def codes(reasons: list[Reason] | None) -> list[str]:
    """The codes of a list of reasons, in order (what tests and filters compare)."""
    return [str(r.get("code", "")) for r in reasons or [] if isinstance(r, dict)]


def has(reasons: list[Reason] | None, code: Code) -> bool:
    return str(code) in codes(reasons)
