"""The note step: the deal's feed tells the order's story.

A new deal gets the creation note (lines, dates, delivery, comment, total); later, a change of lines, total,
dates, delivery or comment adds one short note saying what changed (``OrderSync.pushed_summary`` is the
order as the notes last described it).

No note is lost or doubled: before a note is sent it is written down as pending (its text's hash). A create
whose answer is lost (``UnknownOutcome``) keeps it pending and the run retries; the next attempt first reads
the deal's notes and, if the note is there, takes it as sent. So a note is never both missing and marked
sent, and never sent twice.

https://www.amocrm.ru/developers/content/crm_platform/events-and-notes
"""

from __future__ import annotations

import hashlib
from typing import Any

from console.amocrm.api.errors import UnknownOutcome
from console.amocrm.api.transport import BATCH_SIZE
from console.amocrm.outbound import payloads
from console.amocrm.outbound.job import Job, Run, sync_save


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _wanted(job: Job) -> dict[str, Any] | None:
    """The note ``job``'s deal needs now, as a pending record (kind, text hash, summary) plus its text."""
    sync, summary = job.sync, job.target.summary
    if not sync.note_added:
        text = payloads.note_text(job.order, job.target.lines)
        return {"kind": "create", "hash": _digest(text), "summary": summary, "text": text}
    if sync.pushed_summary and sync.pushed_summary != summary:
        text = payloads.note_change_text(job.order, sync.pushed_summary, summary)
        return {"kind": "change", "hash": _digest(text), "summary": summary, "text": text}
    return None


def _sent(job: Job, note: dict[str, Any]) -> None:
    """The note is on the deal: record what it told."""
    sync = job.sync
    if note["kind"] == "create":
        sync.note_added = True
    sync.pushed_summary = note["summary"]
    sync.pending_note = {}
    job.action = job.action or "update"
    sync_save(sync, "note_added", "pushed_summary", "pending_note")


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
            if job.sync.pending_note.get("hash") in seen.get(int(job.sync.lead_id), set()):
                _sent(job, job.sync.pending_note)
            else:
                job.sync.pending_note = {}
                sync_save(job.sync, "pending_note")


def notes_add(run: Run, jobs: list[Job]) -> None:
    """Add the note each deal of ``jobs`` needs (creation or change), 50 a call."""
    _confirm_pending(run, [job for job in jobs if job.sync.pending_note])
    _baseline(jobs)
    outgoing = [(job, note) for job in jobs if (note := _wanted(job))]
    for start in range(0, len(outgoing), BATCH_SIZE):
        chunk = outgoing[start : start + BATCH_SIZE]
        for job, note in chunk:
            job.sync.pending_note = {k: v for k, v in note.items() if k != "text"}
            sync_save(job.sync, "pending_note")
        items = [payloads.note_payload(job.sync.lead_id, note["text"]) for job, note in chunk]
        try:
            run.amo.add_notes("leads", items)
        except UnknownOutcome as exc:
            for job, note in chunk[: len(exc.created_ids)]:
                _sent(job, note)
            raise
        for job, note in chunk:
            _sent(job, note)


def _baseline(jobs: list[Job]) -> None:
    """Deals whose creation note predates the summaries get today's order as their baseline (no note)."""
    for job in jobs:
        if job.sync.note_added and not job.sync.pushed_summary and not job.sync.pending_note:
            job.sync.pushed_summary = job.target.summary
            sync_save(job.sync, "pushed_summary")
