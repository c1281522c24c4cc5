"""Tasks are enqueued through one django-q2 broker per process (console/amocrm/queue.py)."""

from __future__ import annotations

import os

import pytest
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from console.amocrm import queue


@pytest.mark.django_db
def test_the_broker_is_made_once_per_process_and_anew_in_a_forked_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = queue.process_broker()
    assert queue.process_broker() is first
    parent = os.getpid()
    monkeypatch.setattr(queue.os, "getpid", lambda: parent + 1)  # what a forked child would see
    assert queue.process_broker() is not first


@pytest.mark.django_db(transaction=True)
def test_task_enqueue_pushes_a_signed_task_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")
    task_id = queue.task_enqueue("console.amocrm.tasks.reconcile_task", 7, task_name="probe", save=False)
    (row,) = OrmQ.objects.all()
    task = SignedPackage.loads(row.payload)
    assert (task["id"], task["func"], task["args"], task["name"]) == (
        task_id,
        "console.amocrm.tasks.reconcile_task",
        (7,),
        "probe",
    )
