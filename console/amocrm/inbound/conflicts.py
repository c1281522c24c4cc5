"""A manager resolves a contact or company conflict (``amocrm.parties``): keep ours (pushed again) or take
amoCRM's value. The conflict row keeps who decided what and when (the audit)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from console.amocrm.inbound.parties import apply_values
from console.amocrm.models import CustomerAmoLink, Party, PartyConflict
from console.amocrm.outbound.contacts import company_update_request, contact_update_request
from console.amocrm.parties import fields_agreed, fields_edited
from console.customers.models import Company, Customer


def _push_ours(conflict: PartyConflict, actor: str) -> None:
    """Our value goes out again even though amoCRM's last push hash matches it."""
    trigger = f"manager:{actor}" if actor else "manager"
    fields_edited(party=conflict.party, object_id=conflict.object_id, changed=[conflict.field])
    if conflict.party == Party.CONTACT:
        CustomerAmoLink.objects.filter(customer_id=conflict.object_id).update(contact_hash="x")
        contact_update_request(customer_ids=[conflict.object_id], changed=frozenset(), trigger=trigger)
    else:
        CustomerAmoLink.objects.filter(customer__company_id=conflict.object_id).update(company_hash="x")
        company_update_request(company_id=conflict.object_id, changed=frozenset(), trigger=trigger)


@transaction.atomic
def conflict_resolve(*, conflict_id: int, keep_ours: bool, actor: str = "") -> PartyConflict:
    """Resolve an open conflict; raises ``PartyConflict.DoesNotExist`` when it is not open (any more)."""
    conflict = PartyConflict.objects.select_for_update().get(pk=conflict_id, resolved_at__isnull=True)
    if keep_ours:
        _push_ours(conflict, actor)
    else:
        model = Customer if conflict.party == Party.CONTACT else Company
        row = model.objects.get(pk=conflict.object_id)
        apply_values(conflict.party, row, {conflict.field: conflict.theirs})
        fields_agreed(party=conflict.party, object_id=row.pk, values={conflict.field: conflict.theirs})
    conflict.resolution = PartyConflict.Resolution.OURS if keep_ours else PartyConflict.Resolution.THEIRS
    conflict.resolved_at, conflict.resolved_by = timezone.now(), actor[:150]
    conflict.save(update_fields=["resolution", "resolved_at", "resolved_by"])
    return conflict
