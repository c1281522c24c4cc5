"""The one lease table: a key is held by one holder at a time, an expired lease is taken over, renewals move
every lease of a holder, and a release gives back only the holder's own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from console.amocrm import leases
from console.amocrm.models import Lease

pytestmark = pytest.mark.django_db


def test_a_key_is_taken_by_the_first_holder_only() -> None:
    assert leases.leases_take(kind=leases.ORDER, keys=[1, 2], holder="a") == {1, 2}

    assert leases.leases_take(kind=leases.ORDER, keys=[2, 3], holder="b") == {3}
    assert leases.leases_take(kind=leases.CONTACT, keys=[2], holder="b") == {2}  # another kind, another key
    assert leases.leases_take(kind=leases.ORDER, keys=[1], holder="a") == {1}  # a holder keeps its own


def test_a_lease_not_renewed_in_time_is_taken_over() -> None:
    leases.leases_take(kind=leases.ORDER, keys=[1], holder="dead")
    Lease.objects.update(until=timezone.now() - timedelta(seconds=1))

    assert not leases.lease_live(kind=leases.ORDER, key=1)
    assert leases.leases_take(kind=leases.ORDER, keys=[1], holder="alive") == {1}
    assert leases.lease_live(kind=leases.ORDER, key=1)
    assert leases.leases_renew(holder="dead") == 0


def test_a_renewal_moves_every_lease_of_the_holder_to_a_full_length(settings: Any) -> None:
    settings.AMOCRM_LEASE_SECONDS = 60
    leases.leases_take(kind=leases.ORDER, keys=[1, 2], holder="a")
    leases.leases_take(kind=leases.COMPANY, keys=[5], holder="a")
    leases.leases_take(kind=leases.ORDER, keys=[3], holder="b")
    Lease.objects.update(until=timezone.now() + timedelta(seconds=5))

    assert leases.leases_renew(holder="a") == 3

    left = {
        (lease.kind, lease.key): (lease.until - timezone.now()).total_seconds()
        for lease in Lease.objects.all()
    }
    assert all(55 < left[key] <= 60 for key in [("order", 1), ("order", 2), ("company", 5)])
    assert left[("order", 3)] <= 5


def test_a_release_gives_back_only_the_holders_leases_of_the_kinds_asked() -> None:
    leases.leases_take(kind=leases.ORDER, keys=[1, 2], holder="a")
    leases.leases_take(kind=leases.CONTACT, keys=[7], holder="a")
    leases.leases_take(kind=leases.ORDER, keys=[3], holder="b")

    assert leases.leases_held(holder="a", kinds=[leases.CONTACT, leases.COMPANY]) == {
        "contact": {7},
        "company": set(),
    }
    assert leases.leases_release(holder="a", kinds=[leases.ORDER], keys=[1, 3]) == 1
    assert leases.leases_release(holder="a", kinds=[leases.CONTACT]) == 1

    assert set(Lease.objects.values_list("kind", "key", "holder")) == {("order", 2, "a"), ("order", 3, "b")}


def test_expired_leases_of_a_kind_are_dropped() -> None:
    leases.leases_take(kind=leases.WEBHOOKS, keys=[0], holder="a")
    leases.leases_take(kind=leases.ORDER, keys=[1], holder="a")
    Lease.objects.update(until=timezone.now() - timedelta(seconds=1))

    assert leases.leases_expire(kind=leases.WEBHOOKS) == 1
    assert set(Lease.objects.values_list("kind", flat=True)) == {"order"}
