"""The note step: the deal's feed tells the order's story.

A new deal gets the creation note (lines, dates, delivery, comment, total); later, a change of lines, total,
dates, delivery, comment or status, a cancellation and a (soft) deletion add one short note saying what
changed, riding in the run's one notes call per 50 deals (``OrderSync.pushed_summary`` is the
order as the notes last described it).

No note is lost or doubled: before a note is sent it is marked as sent (``outbound.unconfirmed``, kind
``note``, with its text's hash). A create whose answer is lost (``UnknownOutcome``) keeps the mark and the
run retries; the next attempt waits until the note has settled in amoCRM (the engine), then reads the deal's
notes and, if the note is there, takes it as sent. So a note is never both missing and marked sent, and
never sent twice.

https://www.amocrm.ru/developers/content/crm_platform/events-and-notes
"""

from __future__ import annotations

import hashlib
from typing import Any

from console.amocrm.api.errors import UnknownOutcome
from console.amocrm.api.transport import BATCH_SIZE
from console.amocrm.outbound import payloads
from console.amocrm.outbound.job import BATCH, Job, Run, sync_save
from console.amocrm.outbound.unconfirmed import NOTE, creates_forget, creates_sending


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _wanted(job: Job) -> dict[str, Any] | None:
    """The note ``job``'s deal needs now, as the record of its create (kind, text hash, summary) plus text.

    A summary that differs only in what the notes do not tell (one stored before the status was told)
    is taken as the new baseline without a note."""
    sync, summary = job.sync, job.target.summary
    if not sync.note_added:
        text = payloads.note_text(job.order, job.target.lines)
        return {"kind": "create", "hash": _digest(text), "summary": summary, "text": text}
    if sync.pushed_summary and sync.pushed_summary != summary:
        text = payloads.note_change_text(job.order, sync.pushed_summary, summary)
        if text:
            return {"kind": "change", "hash": _digest(text), "summary": summary, "text": text}
        sync.pushed_summary = summary
        sync_save(sync, "pushed_summary")
    return None


def _sent(job: Job, note: dict[str, Any]) -> None:
    """The note is on the deal: record what it told."""
    sync = job.sync
    if note["kind"] == "create":
        sync.note_added = True
    sync.pushed_summary = note["summary"]
    job.unconfirmed.pop(NOTE, None)
    job.action = job.action or "update"
    sync_save(sync, "note_added", "pushed_summary")


def _confirm_pending(run: Run, jobs: list[Job]) -> None:
    """Notes sent without a confirmed answer: the ones the deals have were sent; the others are sent again.
    One read per 50 deals."""
    for start in range(0, len(jobs), BATCH_SIZE):
        chunk = jobs[start : start + BATCH_SIZE]
        seen: dict[int, set[str]] = {}
        for note in run.amo.list_notes("leads", [int(j.sync.lead_id) for j in chunk]):
            text = str((note.get("params") or {}).get("text") or "")
            seen.setdefault(int(note.get("entity_id") or 0), set()).add(_digest(text))
        for job in chunk:
            note = job.unconfirmed.pop(NOTE).data
            if note.get("hash") in seen.get(int(job.sync.lead_id), set()):
                _sent(job, note)
        creates_forget(NOTE, [job.order.pk for job in chunk])


def notes_add(run: Run, jobs: list[Job]) -> None:
    """Add the note each deal of ``jobs`` needs (creation or change), 50 a call."""
    _confirm_pending(run, [job for job in jobs if NOTE in job.unconfirmed])
    _baseline(jobs)
    outgoing = [(job, note) for job in jobs if (note := _wanted(job))]
    for start in range(0, len(outgoing), BATCH):
        chunk = outgoing[start : start + BATCH]
        sent = {job.order.pk: {k: v for k, v in note.items() if k != "text"} for job, note in chunk}
        items = [payloads.note_payload(job.sync.lead_id, note["text"]) for job, note in chunk]
        try:
            with creates_sending(NOTE, sent, sent):
                run.amo.add_notes("leads", items)
        except UnknownOutcome as exc:
            confirmed = chunk[: len(exc.created_ids)]
            for job, note in confirmed:
                _sent(job, note)
            creates_forget(NOTE, [job.order.pk for job, _ in confirmed])
            raise
        for job, note in chunk:
            _sent(job, note)
        creates_forget(NOTE, sent)


def _baseline(jobs: list[Job]) -> None:
    """Deals whose creation note predates the summaries get today's order as their baseline (no note)."""
    for job in jobs:
        if job.sync.note_added and not job.sync.pushed_summary and NOTE not in job.unconfirmed:
            job.sync.pushed_summary = job.target.summary
            sync_save(job.sync, "pushed_summary")
