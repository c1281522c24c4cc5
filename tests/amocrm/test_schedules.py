"""The integration's schedules exist after migrate and are created only once."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from console.amocrm.schedules import schedules_ensure

pytestmark = pytest.mark.django_db

NAMES = {
    "AmoCRM sync retries",
    "AmoCRM sync log prune",
    "AmoCRM token refresh",
    "AmoCRM reconciliation",
    "AmoCRM webhook inbox prune",
    "AmoCRM users refresh",
    "AmoCRM webhook health",
    "AmoCRM alerts",
    "AmoCRM loss reasons refresh",
}


def test_migrate_leaves_every_schedule_in_place():
    assert set(Schedule.objects.values_list("name", flat=True)) >= NAMES


def test_ensuring_twice_creates_nothing_new(capsys):
    Schedule.objects.all().delete()
    assert set(schedules_ensure()) == NAMES
    assert schedules_ensure() == []
    call_command("amocrm_schedules")
    assert Schedule.objects.filter(name__in=NAMES).count() == len(NAMES)
    assert "present" in capsys.readouterr().out
