"""Companies pages: the list (search by name, legal name, INN, e-mail, phone), the card (details, its
customers, the amoCRM company) and the create/edit form, through ``console.customers.services`` (the API's
rules and its ``company_changed`` signal). Managers and admins edit, support reads."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from console.amocrm.models import CompanyAmoLink
from console.customers.models import Company
from console.customers.services import company_create, company_update
from console.web.customer_forms import CompanyForm
from console.web.customer_lists import CompanyFilter, CompanyTable, companies_queryset
from console.web.decorators import staff_required
from console.web.labels import amo_base_url, party_names
from console.web.permissions import requires
from console.web.views.customers import FormPage, form_page, list_view

CARD_CUSTOMERS = 100


company_list = list_view(
    CompanyFilter,
    companies_queryset,
    CompanyTable,
    "companies/list.html",
    "All companies, searched; htmx gets the table only.",
    "companies",
)


@require_GET
@staff_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One company: details, its customers and its company card in amoCRM."""
    company = get_object_or_404(Company, pk=pk)
    amo_id = CompanyAmoLink.objects.filter(company=company).values_list("amo_id", flat=True).first()
    context = {
        "company": company,
        "customers": list(company.customers.order_by("last_name", "first_name", "pk")[:CARD_CUSTOMERS]),
        "customer_total": company.customers.count(),
        "amo_id": amo_id,
        "amo_parties": party_names(contact_ids=[], company_ids=[amo_id]),
        "amo_base_url": amo_base_url(),
    }
    return render(request, "companies/detail.html", context)


@requires("customers.edit")
def company_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (no ``pk``) or edit a company through the customers services; errors stay on the form."""
    return form_page(request, COMPANY_FORM, get_object_or_404(Company, pk=pk) if pk else None)


COMPANY_FORM = FormPage(
    CompanyForm,
    "companies/form.html",
    "web:company_detail",
    company_create,
    company_update,
    "company",
    gettext_lazy("Company %(name)s created."),
    gettext_lazy("Company %(name)s saved."),
)
