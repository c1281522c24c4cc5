"""amoCRM users refreshed from the sandbox's GET /api/v4/users and linked to console users by e-mail."""

from __future__ import annotations

from typing import Any

import pytest

from console.amocrm.account.users import users_link_set, users_refresh
from console.amocrm.models import AmoUser
from console.amocrm.responsible import amo_user_id_for_order
from console.amocrm.schedules import schedule_specs
from tests.fixtures.builders import make_user


@pytest.mark.django_db
def test_refresh_stores_the_accounts_users_with_their_rights(amo_connection: Any) -> None:
    report = users_refresh()

    assert report.full_list and report.stored == 3
    admin = AmoUser.objects.get(amo_id=100001)
    assert (admin.name, admin.email, admin.is_admin, admin.is_active) == (
        "Администратор",
        "admin@example.com",
        True,
        True,
    )
    assert not AmoUser.objects.get(amo_id=100002).is_admin


@pytest.mark.django_db
def test_console_users_are_linked_by_lower_cased_email_and_an_admins_choice_stays(
    amo_connection: Any,
) -> None:
    anna = make_user("anna", email="Anna@Example.com")
    boris = make_user("boris", email="boris@example.com")

    assert users_refresh().linked == 2
    assert AmoUser.objects.get(amo_id=100002).console_user == anna
    boris_amo = AmoUser.objects.get(amo_id=100003)
    assert boris_amo.console_user == boris

    users_link_set(amo_user=boris_amo, console_user=None)
    users_refresh()
    assert AmoUser.objects.get(amo_id=100003).console_user is None


@pytest.mark.django_db
def test_amo_user_id_for_order_follows_the_responsibles_link(amo_connection: Any, make_order: Any) -> None:
    anna = make_user("anna", email="anna@example.com")
    order = make_order()
    order.responsible = anna
    assert amo_user_id_for_order(order) is None

    users_refresh()
    assert amo_user_id_for_order(order) == 100002
    AmoUser.objects.filter(amo_id=100002).update(is_active=False)
    assert amo_user_id_for_order(order) is None


@pytest.mark.django_db
def test_setup_after_connect_refreshes_the_users(amo_setup: Any) -> None:
    assert set(AmoUser.objects.values_list("amo_id", flat=True)) == {100001, 100002, 100003}


def test_the_users_refresh_runs_on_a_schedule() -> None:
    assert "console.amocrm.tasks.users_refresh_task" in {spec.func for spec in schedule_specs()}
