"""Alerts to administrators: one e-mail when an incident opens and one when it clears, never one per failure.

Three kinds of incident (:class:`~console.amocrm.models.Incident`):

- ``connection``: the connection's circuit is open because amoCRM refused us or a call failed for good
  (``account.connection.BROKEN_STATES``: blocked, unpaid, revoked, rejected, error). A pause, a disconnect
  or a connected account clear it.
- ``failed_syncs``: ``ALERT_FAILED_THRESHOLD`` or more orders failed to sync or wait for a retry
  (``outbound.selectors.sync_failed_list``); it clears below the threshold (0 turns the kind off).
- ``webhook_silence``: no webhook delivery arrived for ``ALERT_WEBHOOK_SILENCE_MINUTES`` while the
  reconciliation applied deal changes in that time: changes amoCRM reports
  (https://www.amocrm.ru/developers/content/crm_platform/leads-api, ``filter[updated_at]``) that no webhook
  (https://www.amocrm.ru/developers/content/crm_platform/webhooks-api) brought, since a change a webhook
  brought is already applied when the reconciliation reads it. A delivery arriving, or a disconnect (no
  webhook is expected then), clears it; without deliveries or changes there is nothing to judge and the
  incident stays as it is.

:func:`alerts_check` (the schedule's task, and at once after a break is recorded) reads those figures
(:func:`alerts_signals`), judges them with the pure :func:`alerts_evaluate`, opens, updates or clears the
incidents and notifies (:func:`alerts_notify`): a mail to the active users with the admin role who have an
e-mail address, and, when ``ALERT_WEBHOOK_URL`` is set, the same as JSON POSTed there. One open incident of a
kind at most (a unique constraint): of two checks at once, only the one that opened or cleared it notifies.
Neither mail nor POST holds a secret: the detail is a code with counts and states, never amoCRM's texts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from console.amocrm.account.connection import BROKEN_STATES
from console.amocrm.api.transport import post_json_elsewhere
from console.amocrm.models import AmoConnection, Incident, SyncLog, WebhookInbox
from console.amocrm.outbound.selectors import sync_failed_list
from console.amocrm.reasons import Code, Reason, reason
from console.roles import role_holders

logger = logging.getLogger(__name__)

Kind = Incident.Kind
MAIL_TEMPLATE = "alerts/incident.txt"


@dataclass(frozen=True)
class Signals:
    """What one check sees: the connection's state, the failed syncs, and over the silence window the deal
    changes the reconciliation applied and whether any webhook delivery arrived."""

    connection_state: str
    failed_syncs: int
    missed_changes: int
    webhook_arrived: bool


@dataclass(frozen=True)
class Finding:
    """The verdict on one kind: ``firing`` True (an incident, ``detail`` says what), False (none), None (no
    evidence either way: an open incident stays open, none is opened)."""

    kind: str
    firing: bool | None
    detail: Reason = field(default_factory=dict)


@dataclass
class AlertReport:
    """What one check did: the kinds opened and cleared (each notified once)."""

    opened: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"opened: {', '.join(self.opened) or '-'}; cleared: {', '.join(self.cleared) or '-'}"


def alerts_signals(*, now: datetime, silence: timedelta) -> Signals:
    """The check's figures from the database (four small queries)."""
    state = AmoConnection.objects.filter(pk=1).values_list("state", flat=True).first()
    since = now - silence
    missed = SyncLog.objects.filter(
        started_at__gte=since, event="reconcile", action="amocrm_status", outcome=SyncLog.Outcome.OK
    ).count()
    return Signals(
        connection_state=str(state or AmoConnection.State.NOT_CONNECTED),
        failed_syncs=sync_failed_list().count(),
        missed_changes=missed,
        webhook_arrived=WebhookInbox.objects.filter(received_at__gte=since).exists(),
    )


def alerts_evaluate(signals: Signals, *, threshold: int, silence_minutes: int) -> list[Finding]:
    """The verdict on every kind (see the module docstring); pure: no query, no clock."""
    state = signals.connection_state
    connection = Finding(
        Kind.CONNECTION, state in BROKEN_STATES, reason(Code.ALERT_CONNECTION, connection_state=state)
    )
    failing = threshold > 0 and signals.failed_syncs >= threshold
    failed = Finding(
        Kind.FAILED_SYNCS,
        failing,
        reason(Code.ALERT_FAILED_SYNCS, count=signals.failed_syncs, threshold=threshold),
    )
    silent: bool | None = None
    if signals.webhook_arrived or state == AmoConnection.State.NOT_CONNECTED:
        silent = False
    elif signals.missed_changes:
        silent = True
    silence = Finding(
        Kind.WEBHOOK_SILENCE,
        silent,
        reason(Code.ALERT_WEBHOOK_SILENCE, changes=signals.missed_changes, minutes=silence_minutes),
    )
    return [connection, failed, silence]


def alerts_check(*, now: datetime | None = None) -> AlertReport:
    """One check: judge, open or clear the incidents, notify once per opening and per clearing."""
    now = now or timezone.now()
    minutes = int(settings.ALERT_WEBHOOK_SILENCE_MINUTES)
    signals = alerts_signals(now=now, silence=timedelta(minutes=minutes))
    findings = alerts_evaluate(
        signals, threshold=int(settings.ALERT_FAILED_THRESHOLD), silence_minutes=minutes
    )
    open_ = {incident.kind: incident for incident in Incident.objects.filter(cleared_at__isnull=True)}
    report = AlertReport()
    for finding in findings:
        incident = open_.get(finding.kind)
        if finding.firing and incident is None:
            opened = _open(finding, now)
            if opened is not None:
                report.opened.append(finding.kind)
                alerts_notify(incident=opened)
        elif finding.firing and incident is not None:
            Incident.objects.filter(pk=incident.pk).update(detail=finding.detail, checked_at=now)
        elif finding.firing is False and incident is not None and _clear(incident, now):
            report.cleared.append(finding.kind)
            alerts_notify(incident=incident)
    return report


def _open(finding: Finding, now: datetime) -> Incident | None:
    """The new incident, or None when another check opened one of this kind first."""
    try:
        with transaction.atomic():
            return Incident.objects.create(
                kind=finding.kind, opened_at=now, checked_at=now, detail=finding.detail
            )
    except IntegrityError:
        return None


def _clear(incident: Incident, now: datetime) -> bool:
    """Clear ``incident``; False when another check cleared it first."""
    cleared = Incident.objects.filter(pk=incident.pk, cleared_at__isnull=True).update(
        cleared_at=now, checked_at=now
    )
    incident.cleared_at = incident.checked_at = now
    return bool(cleared)


def incidents_open() -> list[Incident]:
    """The open incidents, newest first (one query)."""
    return list(Incident.objects.filter(cleared_at__isnull=True))


def admin_addresses() -> list[str]:
    """The e-mail addresses of the active users with the admin role (superusers among them)."""
    return sorted(set(role_holders("admin").exclude(email="").values_list("email", flat=True)))


def alert_message(incident: Incident) -> dict[str, Any]:
    """An incident's opening (or clearing, once ``cleared_at`` is set) in words and as data, in the
    installation's language: ``subject``, ``text`` and the JSON ``payload`` of the alert URL."""
    with translation.override(settings.LANGUAGE_CODE):
        kind = str(Incident.Kind(incident.kind).label)
        title = gettext("Cleared: %(kind)s") if incident.cleared_at else gettext("Incident: %(kind)s")
        subject = title % {"kind": kind}
        text = render_to_string(MAIL_TEMPLATE, {"incident": incident, "kind": kind}).strip()
    payload = {
        "event": "cleared" if incident.cleared_at else "opened",
        "kind": incident.kind,
        "opened_at": incident.opened_at.isoformat(),
        "cleared_at": incident.cleared_at.isoformat() if incident.cleared_at else None,
        "detail": incident.detail,
        "subject": subject,
        "text": text,
    }
    return {"subject": subject, "text": text, "payload": payload}


def alerts_notify(*, incident: Incident) -> None:
    """Mail the administrators about ``incident`` and POST it to ``ALERT_WEBHOOK_URL`` when set. A mail
    server or alert URL that fails is logged (without the URL) and does not stop the check."""
    message = alert_message(incident)
    recipients = admin_addresses()
    if recipients:
        try:
            send_mail(message["subject"], message["text"], None, recipients)
        except OSError as exc:  # smtplib's errors are OSErrors
            logger.warning("alert mail for the %s incident not sent: %s", incident.kind, type(exc).__name__)
    else:
        logger.warning("alert for the %s incident: no administrator has an e-mail address", incident.kind)
    if settings.ALERT_WEBHOOK_URL:
        _post(incident, message["payload"])


def _post(incident: Incident, payload: dict[str, Any]) -> None:
    try:
        status = post_json_elsewhere(
            settings.ALERT_WEBHOOK_URL, payload, timeout=float(settings.ALERT_WEBHOOK_TIMEOUT)
        )
    except OSError as exc:
        logger.warning("alert URL for the %s incident: %s", incident.kind, exc)
        return
    if status >= 300:
        logger.warning("alert URL for the %s incident answered %s", incident.kind, status)
