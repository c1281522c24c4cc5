"""Tasks are enqueued through django-q2 by dotted path, now or when the transaction commits."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from console.amocrm import queue


@pytest.fixture
def orm_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", "default")


@pytest.mark.django_db(transaction=True)
def test_enqueue_pushes_a_signed_task(orm_broker: None) -> None:
    task_id = queue.enqueue("console.amocrm.tasks.reconcile_task", 7, task_name="probe", save=False)
    (row,) = OrmQ.objects.all()
    task = SignedPackage.loads(row.payload)
    assert (task["id"], task["func"], task["args"], task["name"]) == (
        task_id,
        "console.amocrm.tasks.reconcile_task",
        (7,),
        "probe",
    )


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_waits_for_the_commit_and_drops_the_task_on_rollback(orm_broker: None) -> None:
    with transaction.atomic():
        queue.enqueue_on_commit("console.amocrm.tasks.reconcile_task", 1)
        assert not OrmQ.objects.exists()
    assert OrmQ.objects.count() == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        queue.enqueue_on_commit("console.amocrm.tasks.reconcile_task", 2)
        raise RuntimeError("rolled back")
    assert OrmQ.objects.count() == 1
