"""The deal step: create the deals that do not exist yet, update the ones whose fields or stage moved.

No duplicates: a deal create is marked sent (``outbound.unconfirmed``, kind ``lead``) before it is sent and
confirmed when its id is stored; an attempt that finds the mark looks the deal up by the order-number field
first (:func:`leads_adopt`), once amoCRM has had time to carry out the lost create (the engine waits till
then).

https://www.amocrm.ru/developers/content/crm_platform/leads-api
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

from console.amocrm.api.errors import UnknownOutcome
from console.amocrm.loss import loss_reason_to_send
from console.amocrm.models import CustomerAmoLink
from console.amocrm.outbound import payloads
from console.amocrm.outbound.job import BATCH, Job, Run, id_of, ids_of, sync_save
from console.amocrm.outbound.products import lead_products
from console.amocrm.outbound.unconfirmed import CONTACT, LEAD, NOTE, creates_forget, creates_sending

# What ties a sync row to its deal: written together when a deal is adopted or created.
_LINK_FIELDS = (
    "lead_id",
    "pushed_lead_hash",
    "pushed_pipeline_id",
    "pushed_status_id",
    "pushed_products",
    "contact_id",
    "company_id",
)


def leads_adopt(run: Run, jobs: list[Job]) -> None:
    """A create whose answer was lost: adopt the deal amoCRM has for the order number, if any."""
    field_id = run.field_ids.get("order_number")
    for job in jobs:
        number = job.order.number or str(job.order.pk)
        found = run.amo.find_leads_by_custom_field(field_id, number) if field_id else []
        lead_id = id_of(found[0]) if found else None
        sync = job.sync
        if lead_id:
            sync.lead_id = lead_id
            sync.pushed_lead_hash = ""
            sync.pushed_pipeline_id = sync.pushed_status_id = None
            sync.pushed_products = {str(k): v for k, v in lead_products(run.amo, lead_id).items()}
            sync.contact_id = job.contact_id
            sync.company_id = job.company_id
        sync_save(sync, *_LINK_FIELDS)
        job.unconfirmed.pop(LEAD, None)
    creates_forget(LEAD, [job.order.pk for job in jobs])


def leads_create(run: Run, jobs: list[Job]) -> None:
    """Create the deals of ``jobs`` (none has a lead yet), 50 a call; new contacts ride along (complex)."""
    _create_with_contacts(run, [j for j in jobs if j.new_contact])
    jobs = [j for j in jobs if not j.new_contact]
    for start in range(0, len(jobs), BATCH):
        chunk = jobs[start : start + BATCH]
        leads = [
            payloads.lead_payload(
                j.target.fields, stage=j.target.stage, contact_id=j.contact_id, company_id=j.company_id
            )
            for j in chunk
        ]
        try:
            with creates_sending(LEAD, [j.order.pk for j in chunk]):
                ids = ids_of(run.amo.create_leads(leads))
        except UnknownOutcome as exc:
            _store_created(chunk[: len(exc.created_ids)], exc.created_ids)
            raise
        _store_created(chunk, ids)


def _create_with_contacts(run: Run, jobs: list[Job]) -> None:
    """Deals of new customers with their new contact in one call each batch (``/leads/complex``).

    An unknown outcome leaves both creates unconfirmed: the next attempt finds the contact by phone and the
    deal by its order number before creating anything.
    """
    for start in range(0, len(jobs), BATCH):
        chunk = jobs[start : start + BATCH]
        leads = []
        for job in chunk:
            lead = payloads.lead_payload(job.target.fields, stage=job.target.stage)
            lead["_embedded"]["contacts"] = [
                payloads.with_responsible(job.new_contact, payloads.responsible_of(job))
            ]
            leads.append(lead)
        with (
            creates_sending(CONTACT, [j.order.customer_id for j in chunk]),
            creates_sending(LEAD, [j.order.pk for j in chunk]),
        ):
            results = run.amo.create_leads_complex(leads)
        for job, result in zip(chunk, results, strict=True):
            job.contact_id = int(result["contact_id"])
            CustomerAmoLink.objects.filter(customer_id=job.order.customer_id).update(
                contact_id=job.contact_id,
                contact_hash=payloads.stable_hash(job.new_contact),
                updated_at=timezone.now(),
            )
            creates_forget(CONTACT, [job.order.customer_id])
            _store_created([job], [int(result["id"])])


def _store_created(jobs: list[Job], ids: Sequence[int]) -> None:
    """Store the ids of the deals created (the first ``len(ids)`` of ``jobs``) and confirm their creates."""
    stored = list(zip(jobs, ids, strict=False))
    for job, lead_id in stored:
        sync, stage = job.sync, job.target.stage
        sync.lead_id = int(lead_id)
        sync.pushed_lead_hash = job.target.lead_hash
        sync.pushed_pipeline_id = stage.pipeline_id if stage else None
        sync.pushed_status_id = stage.status_id if stage else None
        sync.contact_id, sync.company_id = job.contact_id, job.company_id
        sync.pushed_products = {}
        sync.note_added = False
        sync.pushed_summary = {}
        job.unconfirmed.clear()
        job.new_lead = True
        job.action = "create"
        sync_save(sync, *_LINK_FIELDS, "note_added", "pushed_summary")
    for kind in (LEAD, NOTE):  # a new deal has no note yet: an older deal's lost note is not looked for
        creates_forget(kind, [job.order.pk for job, _ in stored])


def leads_update(run: Run, jobs: list[Job]) -> None:
    """PATCH what changed: our fields when their hash moved, the stage when it differs from the pushed one."""
    patches = []
    for job in jobs:
        sync, target = job.sync, job.target
        fields = target.fields if sync.pushed_lead_hash != target.lead_hash else None
        stage = target.stage
        if stage and (sync.pushed_pipeline_id, sync.pushed_status_id) == (stage.pipeline_id, stage.status_id):
            stage = None
        if fields is None and stage is None:
            continue
        lost_with = loss_reason_to_send(job.order) if stage else None
        body = payloads.lead_update_payload(
            sync.lead_id, fields=fields, stage=stage, loss_reason_id=lost_with
        )
        patches.append((job, body))
    if len(patches) == 1:
        job, body = patches[0]
        run.amo.update_lead(job.sync.lead_id, {k: v for k, v in body.items() if k != "id"})
    else:
        for start in range(0, len(patches), BATCH):
            run.amo.update_leads([body for _, body in patches[start : start + BATCH]])
    for job, _body in patches:
        job.action = job.action or "update"
        job.sync.pushed_lead_hash = job.target.lead_hash
        if job.target.stage:
            job.sync.pushed_pipeline_id = job.target.stage.pipeline_id
            job.sync.pushed_status_id = job.target.stage.status_id
        sync_save(job.sync, "pushed_lead_hash", "pushed_pipeline_id", "pushed_status_id")
