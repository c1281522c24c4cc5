"""Webhook reasons become data: ``WebhookInbox.reason`` (English prose) -> ``reasons`` (codes and parameters),
and each item result's ``reason`` -> ``reasons``. The prose the integration wrote until now is read once,
here, by the patterns below; a text no pattern reads is kept as a ``legacy`` reason with the text."""

import re

from django.db import migrations, models

STAGE = r"(?P<pipeline_id>\d+)/(?P<status_id>\d+)"
OUTCOMES = "pending|applied|echo|stale|duplicate|ignored|invalid|failed"
# (pattern, code); named groups become parameters (digits as ints).
PATTERNS = [
    (r"the order is deleted", "order_deleted"),
    (r"last_modified (?P<seen>\d+) is older than (?P<applied>\d+) already applied", "older_than_applied"),
    (rf"stage {STAGE} is the one we pushed last", "our_stage"),
    (r"a push of this order was in flight and overwrites the stage; reconciliation re-checks", "push_in_flight"),
    (r"the order's status was changed here after this amoCRM change; our push wins", "local_status_wins"),
    (rf"stage {STAGE} is mapped to several statuses: (?P<statuses>[\w, ]+?)", "stage_ambiguous"),
    (rf"the mapping of stage {STAGE} is disabled", "stage_disabled"),
    (rf"stage {STAGE} is not mapped to an order status", "stage_unmapped"),
    (r"the order already has status (?P<status>\w+)", "already_status"),
    (rf"status (?P<status>\w+) from stage {STAGE} \(confirmed by re-reading the lead\)", "status_set+verified"),
    (rf"status (?P<status>\w+) from stage {STAGE}", "status_set"),
    (r"no order is linked to this lead", "no_order"),
    (r"several orders are linked to this lead", "several_orders"),
    (r"last_modified (?P<seen>\d+) lies more than (?P<minutes>\d+) minutes after our clock, not trusted", "time_ahead"),
    (r"the lead no longer exists in amoCRM", "lead_gone"),
    (r"superseded by our later push: amoCRM shows the stage we pushed", "superseded"),
    (r"the deal was deleted in amoCRM", "deal_deleted"),
    (r"the deal was restored in amoCRM", "deal_restored"),
    (r"the item has no lead id", "no_lead_id"),
    (r"the item carries no pipeline/stage", "no_stage"),
    (r"note events are not synced", "notes_not_synced"),
    (r"contacts events are not synced", "contacts_not_synced"),
    (r"companies events are not synced", "companies_not_synced"),
    (r"(?P<entity>\w+)\[(?P<action>\w+)\] events are not synced", "not_synced"),
    (r"the payment was changed here after our last push; our push wins", "payment_local_wins"),
    (r"amoCRM's payment is not valid here: (?P<errors>.*)", "payment_invalid"),
    (r"payment (?P<amount>[\d.]+) ₽, (?P<payment>\w+) from the deal", "payment_set"),
    (r"same content as delivery #(?P<id>\d+)", "duplicate_of"),
    (r"no entity items in the body", "no_items"),
    (r"no account in the body", "no_account"),
    (r"body too large \((?P<size>\d+) bytes, WEBHOOK_MAX_BODY is (?P<limit>\d+)\), not stored", "body_too_large"),
    (r"body too large, not stored", "body_too_large"),
    (r"unparseable body: (?P<error>.*)", "unparseable"),
    (r"waiting: amoCRM may not be called now \((?P<state>\w+): (?P<error>[^)]*)\)", "waiting_circuit"),
    (r"waiting: amoCRM did not answer \((?P<error>[^)]*)\), tried again later", "waiting_no_answer"),
]
COMPILED = [(re.compile(rf"(?:{p})(?:; |$)"), code) for p, code in PATTERNS]
COUNTS = re.compile(rf"(?P<count>\d+) (?P<outcome>{OUTCOMES})(?:; |$)")


def _params(match: re.Match) -> dict:
    params = {}
    for name, value in match.groupdict().items():
        if value is None:
            continue
        if name == "statuses":
            params[name] = [v.strip() for v in value.split(",")]
        elif name == "errors":
            params[name] = value.split("; ")
        elif value.isdigit() and name != "amount":
            params[name] = int(value)
        else:
            params[name] = value
    return params


def to_reasons(text: str) -> list:
    """The old prose as a list of reasons (``legacy`` with the text when no pattern reads it all)."""
    if not text:
        return []
    counts, pos = {}, 0
    while (m := COUNTS.match(text, pos)) and m.end() > pos:
        counts[m["outcome"]] = int(m["count"])
        pos = m.end()
    if counts and pos == len(text):
        return [{"code": "counts", "params": {"counts": counts}}]
    reasons, pos = [], 0
    while pos < len(text):
        for pattern, code in COMPILED:
            match = pattern.match(text, pos)
            if match and match.end() > pos:
                params = _params(match)
                if code == "status_set+verified":
                    code, params["verified"] = "status_set", True
                reasons.append({"code": code, "params": params})
                pos = match.end()
                break
        else:
            return [{"code": "legacy", "params": {"text": text}}]
    return reasons


def to_text(reasons: list) -> str:
    """Back to one line of prose (codes and parameters) for a migration undone."""
    return "; ".join(
        r.get("params", {}).get("text") or " ".join([r.get("code", ""), str(r.get("params") or "")]).strip()
        for r in reasons or []
    )


def forwards(apps, schema_editor):
    WebhookInbox = apps.get_model("amocrm", "WebhookInbox")
    rows = WebhookInbox.objects.only("id", "reason", "results").order_by("id")
    batch = []
    for row in rows.iterator(chunk_size=1000):
        row.reasons = to_reasons(row.reason)
        for item in row.results or []:
            if isinstance(item, dict) and "reason" in item:
                item["reasons"] = to_reasons(item.pop("reason") or "")
        batch.append(row)
        if len(batch) >= 1000:
            WebhookInbox.objects.bulk_update(batch, ["reasons", "results"])
            batch = []
    WebhookInbox.objects.bulk_update(batch, ["reasons", "results"])


def backwards(apps, schema_editor):
    WebhookInbox = apps.get_model("amocrm", "WebhookInbox")
    batch = []
    for row in WebhookInbox.objects.only("id", "reasons", "results").order_by("id").iterator(chunk_size=1000):
        row.reason = to_text(row.reasons)
        for item in row.results or []:
            if isinstance(item, dict) and "reasons" in item:
                item["reason"] = to_text(item.pop("reasons"))
        batch.append(row)
    WebhookInbox.objects.bulk_update(batch, ["reason", "results"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("amocrm", "0007_unconfirmed_creates_and_leases")]

    operations = [
        migrations.AddField(
            model_name="webhookinbox",
            name="reasons",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="why: codes and parameters (console.amocrm.reasons)",
                verbose_name="reasons",
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="webhookinbox", name="reason"),
    ]
