"""The customers and companies pages: the list's search (name, a phone typed in any spelling, e-mail, INN)
and type filter, the card (orders with their sync state, the amoCRM contact and company, history), the
create/edit forms under the API's rules (errors on the form, never a 500; the domain signals sent) and who
may do what (managers edit, support reads)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from console.amocrm.models import AmoConnection, CompanyAmoLink, CustomerAmoLink, OrderSync, SyncLog
from console.customers.models import COMPANY_FIELDS, Company, Customer
from tests.fixtures.builders import make_user

pytestmark = pytest.mark.django_db


def customer_post(**overrides: str) -> dict[str, str]:
    return {
        "customer_type": "individual",
        "first_name": "Анна",
        "last_name": "Смирнова",
        "display_name": "",
        "email": "Anna@Example.com",
        "phone": "8 (999) 123-45-67",
        "company": "",
        "is_active": "on",
    } | overrides


def listed(client, **query: str) -> set[int]:  # noqa: ANN001
    response = client.get(reverse("web:customers"), query)
    assert response.status_code == 200
    return {row.record.pk for row in response.context["table"].page.object_list}


@pytest.fixture
def people(make_customer, make_company) -> dict[str, Customer]:  # noqa: ANN001
    company = make_company(name="ООО Мебель", inn="7707083893")
    return {
        "anna": make_customer(
            first_name="Анна", last_name="Смирнова", phone="+79161234567", email="anna@x.ru"
        ),
        "boris": make_customer(first_name="Борис", last_name="Петров", phone="+79031112233", email="b@y.ru"),
        "firm": make_customer(
            first_name="Вера",
            last_name="Орлова",
            customer_type="business",
            company=company,
            email="v@firm.ru",
        ),
    }


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ("Смирнова", "anna"),
        ("анна", "anna"),
        ("8 (916) 123-45-67", "anna"),
        ("+7 916 123 45 67", "anna"),
        ("89031112233", "boris"),
        ("B@Y.RU", "boris"),
        ("7707083893", "firm"),
        ("770708", "firm"),
    ],
)
def test_the_list_finds_a_customer_by_name_phone_email_and_inn(admin_client, people, query, who) -> None:
    assert listed(admin_client, q=query) == {people[who].pk}


def test_the_list_filters_by_type_and_hides_inactive_customers(admin_client, people) -> None:
    assert listed(admin_client, customer_type="business") == {people["firm"].pk}
    assert listed(admin_client, customer_type="individual") == {people["anna"].pk, people["boris"].pk}
    Customer.objects.filter(pk=people["boris"].pk).update(is_active=False)
    assert people["boris"].pk not in listed(admin_client)
    assert people["boris"].pk in listed(admin_client, inactive="on")


def test_each_row_links_to_the_card_and_bad_filters_are_no_500(admin_client, people) -> None:
    body = admin_client.get(reverse("web:customers")).content.decode()
    assert reverse("web:customer_detail", args=[people["anna"].pk]) in body
    assert (
        admin_client.get(reverse("web:customers"), {"customer_type": "alien", "q": "\x00x"}).status_code
        == 200
    )
    assert admin_client.get(reverse("web:customers"), {"page": "999"}).status_code == 200


def test_the_list_paginates(admin_client, make_customer) -> None:
    for _ in range(55):
        make_customer()
    response = admin_client.get(reverse("web:customers"))
    assert len(response.context["table"].page.object_list) == 50
    assert len(admin_client.get(reverse("web:customers"), {"page": 2}).context["table"].page.object_list) == 5


def test_htmx_gets_the_table_only(admin_client, people) -> None:
    response = admin_client.get(reverse("web:customers"), {"q": "Петров"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="customers-table"' in body and "<html" not in body and "Петров" in body


def test_the_card_shows_orders_sync_state_amo_links_and_history(admin_client, make_order) -> None:
    order = make_order()
    customer = order.customer
    AmoConnection.objects.update_or_create(pk=1, defaults={"base_url": "https://shop.amocrm.ru"})
    OrderSync.objects.update_or_create(order=order, defaults={"state": "synced", "lead_id": 515151})
    CustomerAmoLink.objects.create(customer=customer, contact_id=2000077, company_id=3000002)
    SyncLog.objects.create(order=order, action="update", outcome="ok", contact_id=2000077)
    response = admin_client.get(reverse("web:customer_detail", args=[customer.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert order.number in body and 'data-sync-state="synced"' in body
    assert "https://shop.amocrm.ru/contacts/detail/2000077" in body
    assert "https://shop.amocrm.ru/companies/detail/3000002" in body
    assert "https://shop.amocrm.ru/leads/detail/515151" in body
    assert 'data-amo-state="synced"' in body
    assert len(response.context["history"]) == 1
    CustomerAmoLink.objects.filter(customer=customer).update(update_pending=True)
    assert (
        'data-amo-state="pending"'
        in admin_client.get(reverse("web:customer_detail", args=[customer.pk])).content.decode()
    )


def test_a_customer_never_synced_says_so(admin_client, make_customer) -> None:
    customer = make_customer()
    response = admin_client.get(reverse("web:customer_detail", args=[customer.pk]))
    assert response.context["amo"].state == "not_linked"
    assert admin_client.get(reverse("web:customer_detail", args=[999999])).status_code == 404


def test_the_order_page_links_its_customer_to_the_card(admin_client, make_order) -> None:
    order = make_order()
    body = admin_client.get(reverse("web:order_detail", args=[order.pk])).content.decode()
    assert reverse("web:customer_detail", args=[order.customer_id]) in body


def test_creating_a_customer_normalises_and_sends_the_signal(
    client, customer_signals, django_capture_on_commit_callbacks
) -> None:
    client.force_login(make_user("anna", role="manager"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:customer_create"), customer_post())
    customer = Customer.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "web:customer_detail", args=[customer.pk]
    )
    assert (customer.phone_normalized, customer.email) == ("+79991234567", "anna@example.com")
    assert [(c["action"], c["origin"], c["actor"]) for c in customer_signals.calls] == [
        ("created", "manager", "anna")
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "12", "email": ""}, "phone"),
        ({"phone": "", "email": ""}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"first_name": "", "last_name": ""}, "first_name"),
        ({"customer_type": "business"}, "company"),
        ({"customer_type": "alien"}, "customer_type"),
        ({"company": "999999", "customer_type": "business"}, "company"),
    ],
)
def test_bad_input_is_a_form_error_not_a_500(admin_client, overrides, field) -> None:
    response = admin_client.post(reverse("web:customer_create"), customer_post(**overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert not Customer.objects.exists()


def test_a_duplicate_phone_typed_differently_names_the_existing_customer(admin_client, people) -> None:
    response = admin_client.post(
        reverse("web:customer_create"), customer_post(phone="8 916 123-45-67", email="")
    )
    assert response.status_code == 200
    assert "Смирнова" in " ".join(response.context["form"].errors["phone"])


def test_editing_a_customer_sends_what_changed(
    admin_client, people, customer_signals, django_capture_on_commit_callbacks
) -> None:
    anna = people["anna"]
    url = reverse("web:customer_edit", args=[anna.pk])
    form = admin_client.get(url).context["form"]
    assert form.initial["phone"] == anna.phone
    data = customer_post(first_name="Аня", phone=anna.phone, email=anna.email)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, data).status_code == 302
    anna.refresh_from_db()
    assert anna.first_name == "Аня"
    assert [(c["action"], c["changed"]) for c in customer_signals.calls] == [
        ("updated", frozenset({"first_name"}))
    ]


def test_support_reads_but_cannot_edit(client, people) -> None:
    client.force_login(make_user("sam", role="support"))
    anna = people["anna"]
    assert client.get(reverse("web:customers")).status_code == 200
    body = client.get(reverse("web:customer_detail", args=[anna.pk])).content.decode()
    assert reverse("web:customer_edit", args=[anna.pk]) not in body
    assert client.get(reverse("web:customer_create")).status_code == 403
    assert client.post(reverse("web:customer_edit", args=[anna.pk]), customer_post()).status_code == 403
    assert client.post(reverse("web:company_create"), {"name": "X"}).status_code == 403
    assert not Company.objects.filter(name="X").exists()


def test_the_menu_has_customers_in_russian(admin_client) -> None:
    body = admin_client.get(reverse("web:customers"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert f'href="{reverse("web:customers")}" class="active"' in body
    with translation.override("ru"):
        assert "Клиенты" in body


# --- Companies ---------------------------------------------------------------------------------------


def test_the_companies_list_finds_by_name_and_inn(admin_client, people) -> None:
    firm = people["firm"].company
    for query in ("мебель", "7707083893", "7707"):
        response = admin_client.get(reverse("web:companies"), {"q": query})
        assert [row.record.pk for row in response.context["table"].page.object_list] == [firm.pk], query
    assert (
        not admin_client.get(reverse("web:companies"), {"q": "нет такой"}).context["table"].page.object_list
    )


def test_the_company_card_shows_customers_and_its_amo_company(admin_client, people) -> None:
    firm = people["firm"].company
    AmoConnection.objects.update_or_create(pk=1, defaults={"base_url": "https://shop.amocrm.ru"})
    CompanyAmoLink.objects.create(company=firm, amo_id=3000009)
    body = admin_client.get(reverse("web:company_detail", args=[firm.pk])).content.decode()
    assert "Орлова" in body and "https://shop.amocrm.ru/companies/detail/3000009" in body


def test_creating_and_editing_a_company_goes_through_the_service(
    client, company_signals, django_capture_on_commit_callbacks
) -> None:
    client.force_login(make_user("anna", role="manager"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:company_create"), {"name": "ООО Стул", "inn": "7707083893"})
        company = Company.objects.get()
        assert response["Location"] == reverse("web:company_detail", args=[company.pk])
        client.post(reverse("web:company_edit", args=[company.pk]), {"name": "ООО Стол", "inn": "7707083893"})
    company.refresh_from_db()
    assert company.name == "ООО Стол"
    assert [(c["action"], c["changed"]) for c in company_signals.calls] == [
        ("created", frozenset(COMPANY_FIELDS)),
        ("updated", frozenset({"name"})),
    ]


@pytest.mark.parametrize(
    ("data", "field"),
    [({"name": ""}, "name"), ({"name": "A", "inn": "123"}, "inn"), ({"name": "A", "kpp": "x"}, "kpp")],
)
def test_a_bad_company_is_a_form_error(admin_client, data, field) -> None:
    response = admin_client.post(reverse("web:company_create"), data)
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not Company.objects.exists()


def test_a_duplicate_inn_names_the_existing_company(admin_client, people) -> None:
    response = admin_client.post(reverse("web:company_create"), {"name": "Другая", "inn": "7707083893"})
    assert "ООО Мебель" in " ".join(response.context["form"].errors["inn"])


def test_the_card_lists_who_changed_what(client, make_customer, django_capture_on_commit_callbacks) -> None:
    client.force_login(make_user("anna", role="manager"))
    with django_capture_on_commit_callbacks(execute=True):
        customer = make_customer(first_name="Вера", last_name="Орлова", phone="+79161230000", email="")
        data = customer_post(first_name="Вероника", last_name="Орлова", phone=customer.phone, email="v@x.ru")
        assert client.post(reverse("web:customer_edit", args=[customer.pk]), data).status_code == 302
    changes = client.get(reverse("web:customer_detail", args=[customer.pk])).context["changes"]
    assert [(c.action, c.fields, c.who) for c in changes] == [
        ("Changed", "First name, E-mail", "anna"),
        ("Created", "", "System"),
    ]
    with translation.override("ru"):
        body = client.get(reverse("web:customer_detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="ru")
    assert "Имя, Эл. почта" in body.content.decode()


def test_phones_show_in_one_national_format_whatever_their_spelling() -> None:
    from django.template import Context, Template

    rendered = Template("{% load console_format %}{{ a|phone }}|{{ b|phone }}|{{ c|phone }}|{{ d|phone }}")
    phones = {"a": "+79161234567", "b": "+7 916 123 45 67", "c": "", "d": "+4930123456"}
    text = rendered.render(Context(phones))
    assert text == "8 (916) 123-45-67|8 (916) 123-45-67|—|+49 30 123456"
