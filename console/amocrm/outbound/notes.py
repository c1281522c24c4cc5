"""The note step: the order's creation note (lines, dates, delivery, comment, total) on its new deal.

https://www.amocrm.ru/developers/content/crm_platform/events-and-notes
"""

from __future__ import annotations

import contextlib

from console.amocrm.api.errors import UnknownOutcome
from console.amocrm.models import OrderSync
from console.amocrm.outbound import payloads
from console.amocrm.outbound.job import BATCH, Job, Run


def notes_add(run: Run, jobs: list[Job]) -> None:
    """Add the creation note to each deal of ``jobs`` that has none yet, 50 a call."""
    for start in range(0, len(jobs), BATCH):
        chunk = jobs[start : start + BATCH]
        notes = [
            payloads.note_payload(j.sync.lead_id, payloads.note_text(j.order, j.target.lines)) for j in chunk
        ]
        # A note whose create was not confirmed may exist: a duplicate note is worse than a missing one.
        with contextlib.suppress(UnknownOutcome):
            run.amo.add_notes("leads", notes)
        OrderSync.objects.filter(pk__in=[j.sync.pk for j in chunk]).update(note_added=True)
        for job in chunk:
            job.sync.note_added = True
