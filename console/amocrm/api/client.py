"""The HTTP client of amoCRM's REST API v4: one small method per endpoint, each naming its documentation page.

Every method sends through :meth:`console.amocrm.api.transport.Transport._request` (tokens, rate limit,
retries, typed errors). The client knows amoCRM's endpoints and JSON shapes, nothing of our orders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from console.amocrm.api.errors import NotFound, UnknownOutcome
from console.amocrm.api.transport import BATCH_SIZE, PAGE_LIMIT, Transport, embedded

ENTITIES = ("leads", "contacts", "companies", "customers")
_CF_OWNER = re.compile(r"^(leads|contacts|companies|customers|catalogs/\d+)$")


def _entity(entity: str) -> str:
    if entity not in ENTITIES:
        raise ValueError(f"unknown amoCRM entity {entity!r}")
    return entity


def _field_owner(entity: str) -> str:
    if not _CF_OWNER.match(entity):
        raise ValueError(f"unknown custom-field owner {entity!r}")
    return entity


def cf_values(entity: dict[str, Any], *, code: str | None = None, field_id: int | None = None) -> list[str]:
    """The values of an entity's custom field, found by field ``code`` or ``field_id``, as strings."""
    values = []
    for field in entity.get("custom_fields_values") or []:
        if (code and field.get("field_code") == code) or (field_id and field.get("field_id") == field_id):
            values.extend(str(v.get("value", "")) for v in field.get("values") or [])
    return values


def amo_number(value: Decimal | int | float | str) -> int | float:
    """A number as amoCRM's JSON wants it: an int when whole, else a float."""
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


class AmoCRMClient(Transport):
    """The endpoints the console uses. ``calls`` (from :class:`Transport`) counts HTTP requests."""

    # --- account, pipelines, custom fields ---------------------------------------------------------------

    def get_account(self, with_: Iterable[str] = ()) -> dict[str, Any]:
        # https://www.amocrm.ru/developers/content/crm_platform/account-info
        # GET /api/v4/account
        params = {"with": ",".join(with_)} if with_ else None
        return self._request("GET", "/api/v4/account", params=params) or {}

    def iter_users(self) -> Iterator[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/users-api
        # GET /api/v4/users (paginated; admin-only: 403 for a non-admin connecting user)
        """Every user of the account, page by page."""
        return self._paginate("/api/v4/users", "users", {"limit": PAGE_LIMIT})

    def iter_loss_reasons(self) -> Iterator[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api (loss_reason_id on a lead) and
        # GET /api/v4/leads/loss_reasons (204 when the account has none; paging UNCONFIRMED: we page it)
        """The account's loss reasons, page by page."""
        return self._paginate("/api/v4/leads/loss_reasons", "loss_reasons", {"limit": PAGE_LIMIT})

    def list_pipelines(self) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads_pipelines
        # GET /api/v4/leads/pipelines
        return list(self._paginate("/api/v4/leads/pipelines", "pipelines"))

    def list_custom_fields(self, entity: str) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/custom-fields
        # GET /api/v4/{entity}/custom_fields
        path = f"/api/v4/{_field_owner(entity)}/custom_fields"
        return list(self._paginate(path, "custom_fields", {"limit": PAGE_LIMIT}))

    def create_custom_fields(self, entity: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/custom-fields
        # POST /api/v4/{entity}/custom_fields
        path = f"/api/v4/{_field_owner(entity)}/custom_fields"
        created: list[dict[str, Any]] = []
        for start in range(0, len(fields), BATCH_SIZE):
            body = self._request("POST", path, json=fields[start : start + BATCH_SIZE], create=True)
            created.extend(embedded(body, "custom_fields"))
        return created

    def update_custom_fields(self, entity: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/custom-fields
        # PATCH /api/v4/{entity}/custom_fields
        path = f"/api/v4/{_field_owner(entity)}/custom_fields"
        return self._update_batches(path, "custom_fields", fields)

    # --- contacts and companies --------------------------------------------------------------------------

    def search(self, entity: str, query: str, *, limit: int = 50) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/duplication-control
        # GET /api/v4/{entity}?query=
        # (a full-text search over the filled fields; 204 = nothing found)
        body = self._request("GET", f"/api/v4/{_entity(entity)}", params={"query": query, "limit": limit})
        return embedded(body, _entity(entity))

    def create_contacts(self, contacts: list[dict[str, Any]]) -> list[int]:
        # https://www.amocrm.ru/developers/content/crm_platform/contacts-api
        # POST /api/v4/contacts
        return self._create_batches("/api/v4/contacts", "contacts", contacts)

    def update_contacts(self, contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/contacts-api
        # PATCH /api/v4/contacts
        return self._update_batches("/api/v4/contacts", "contacts", contacts)

    def get_contact(self, contact_id: int) -> dict[str, Any] | None:
        # https://www.amocrm.ru/developers/content/crm_platform/contacts-api
        # GET /api/v4/contacts/{id} (204 or 404 = no such contact -> None)
        try:
            return self._request("GET", f"/api/v4/contacts/{int(contact_id)}")
        except NotFound:
            return None

    def get_company(self, company_id: int) -> dict[str, Any] | None:
        # https://www.amocrm.ru/developers/content/crm_platform/companies-api
        # GET /api/v4/companies/{id} (204 or 404 = no such company -> None)
        try:
            return self._request("GET", f"/api/v4/companies/{int(company_id)}")
        except NotFound:
            return None

    def create_companies(self, companies: list[dict[str, Any]]) -> list[int]:
        # https://www.amocrm.ru/developers/content/crm_platform/companies-api
        # POST /api/v4/companies
        return self._create_batches("/api/v4/companies", "companies", companies)

    def update_companies(self, companies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/companies-api: PATCH /api/v4/companies
        return self._update_batches("/api/v4/companies", "companies", companies)

    # --- leads -------------------------------------------------------------------------------------------

    def create_leads(self, leads: list[dict[str, Any]]) -> list[int]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api
        # POST /api/v4/leads
        # (ids matched to the input by the echoed request_id)
        return self._create_batches("/api/v4/leads", "leads", leads)

    def update_leads(self, leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api
        # PATCH /api/v4/leads -> [{id, updated_at}]
        return self._update_batches("/api/v4/leads", "leads", leads)

    def update_lead(self, lead_id: int, data: dict[str, Any]) -> dict[str, Any]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api
        # PATCH /api/v4/leads/{id}
        # (one object; the answer carries {id, updated_at} at the top level)
        body = self._request("PATCH", f"/api/v4/leads/{int(lead_id)}", json=data) or {}
        items = embedded(body, "leads")
        return items[0] if items and "id" not in body else body

    def create_leads_complex(self, leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api
        # POST /api/v4/leads/complex
        # (at most 50 per request) -> [{id, contact_id, company_id, request_id, merged}]
        result: list[dict[str, Any]] = []
        for start in range(0, len(leads), BATCH_SIZE):
            chunk = [
                {**lead, "request_id": str(lead.get("request_id") or start + i)}
                for i, lead in enumerate(leads[start : start + BATCH_SIZE])
            ]
            try:
                body = self._request("POST", "/api/v4/leads/complex", json=chunk, create=True)
            except UnknownOutcome as exc:
                exc.created_ids = [r["id"] for r in result if r.get("id")]
                raise
            result.extend(body if isinstance(body, list) else embedded(body, "leads"))
        return result

    def get_lead(self, lead_id: int, with_: Iterable[str] = ()) -> dict[str, Any] | None:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api
        # GET /api/v4/leads/{id}
        # (204 or 404 = no such lead -> None)
        params = {"with": ",".join(with_)} if with_ else None
        try:
            return self._request("GET", f"/api/v4/leads/{int(lead_id)}", params=params)
        except NotFound:
            return None

    def iter_leads(
        self,
        updated_since: Any = None,
        *,
        pipeline_id: int | None = None,
        with_: Iterable[str] = (),
        limit: int = PAGE_LIMIT,
    ) -> Iterator[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api
        # GET /api/v4/leads
        # ?filter[updated_at][from]=...&order[updated_at]=asc (paginated)
        """Leads updated at or after ``updated_since`` (aware datetime or Unix seconds), oldest first."""
        params: dict[str, Any] = {"limit": min(limit, PAGE_LIMIT), "order[updated_at]": "asc"}
        if updated_since is not None:
            since = updated_since if isinstance(updated_since, (int, float)) else updated_since.timestamp()
            params["filter[updated_at][from]"] = int(since)
        if pipeline_id:
            params["filter[pipeline_id][]"] = [pipeline_id]
        if with_:
            params["with"] = ",".join(with_)
        return self._paginate("/api/v4/leads", "leads", params)

    def find_leads_by_custom_field(self, field_id: int, value: str) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/leads-api
        # GET /api/v4/leads?query=...
        """Leads whose custom field ``field_id`` holds exactly ``value`` (the search matches any field)."""
        leads = self._paginate("/api/v4/leads", "leads", {"query": str(value), "limit": PAGE_LIMIT})
        return [lead for lead in leads if str(value) in cf_values(lead, field_id=int(field_id))]

    # --- notes -------------------------------------------------------------------------------------------

    def list_notes(self, entity: str, entity_ids: Iterable[int]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/events-and-notes
        # GET /api/v4/{entity}/notes?filter[entity_id][]=... (paginated)
        """The notes of the given entities (one request per page, however many entities)."""
        params = {"filter[entity_id][]": [int(i) for i in entity_ids], "limit": PAGE_LIMIT}
        return list(self._paginate(f"/api/v4/{_entity(entity)}/notes", "notes", params))

    def add_notes(self, entity: str, notes: list[dict[str, Any]]) -> list[int]:
        # https://www.amocrm.ru/developers/content/crm_platform/events-and-notes
        # POST /api/v4/{entity}/notes
        return self._create_batches(f"/api/v4/{_entity(entity)}/notes", "notes", notes)

    # --- tasks -------------------------------------------------------------------------------------------

    def list_tasks(self, entity: str, entity_ids: Iterable[int]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/tasks-api
        # GET /api/v4/tasks?filter[entity_type]=leads&filter[entity_id][]=... (paginated)
        """The tasks of the given entities (one request per page, however many entities)."""
        params = {
            "filter[entity_type]": _entity(entity),
            "filter[entity_id][]": [int(i) for i in entity_ids],
            "limit": PAGE_LIMIT,
        }
        return list(self._paginate("/api/v4/tasks", "tasks", params))

    def add_tasks(self, tasks: list[dict[str, Any]]) -> list[int]:
        # https://www.amocrm.ru/developers/content/crm_platform/tasks-api
        # POST /api/v4/tasks (answers 200 with _embedded.tasks[{id, request_id}]); the tasks of a batch of
        # 50 deals (up to 3 each) go in one request of at most 250, amoCRM's limit for a list
        return self._create_batches("/api/v4/tasks", "tasks", tasks, batch=PAGE_LIMIT)

    def update_tasks(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/tasks-api
        # PATCH /api/v4/tasks (items with id; closing sends is_completed with result.text), 250 a request
        return self._update_batches("/api/v4/tasks", "tasks", tasks, batch=PAGE_LIMIT)

    # --- links -------------------------------------------------------------------------------------------

    def link(self, entity: str, entity_id: int, links: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/entity-links-api
        # POST /api/v4/{entity}/{id}/link
        body = self._request("POST", f"/api/v4/{_entity(entity)}/{int(entity_id)}/link", json=links)
        return embedded(body, "links")

    def unlink(self, entity: str, entity_id: int, links: list[dict[str, Any]]) -> None:
        # https://www.amocrm.ru/developers/content/crm_platform/entity-links-api
        # POST /api/v4/{entity}/{id}/unlink
        self._request("POST", f"/api/v4/{_entity(entity)}/{int(entity_id)}/unlink", json=links)

    def link_many(self, entity: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/entity-links-api
        # POST /api/v4/{entity}/link
        # [{entity_id, entity_type, to_entity_id, to_entity_type, metadata}], 50 a request
        result: list[dict[str, Any]] = []
        for start in range(0, len(items), BATCH_SIZE):
            chunk = items[start : start + BATCH_SIZE]
            result.extend(
                embedded(self._request("POST", f"/api/v4/{_entity(entity)}/link", json=chunk), "links")
            )
        return result

    def unlink_many(self, entity: str, items: list[dict[str, Any]]) -> None:
        # https://www.amocrm.ru/developers/content/crm_platform/entity-links-api
        # POST /api/v4/{entity}/unlink
        for start in range(0, len(items), BATCH_SIZE):
            self._request("POST", f"/api/v4/{_entity(entity)}/unlink", json=items[start : start + BATCH_SIZE])

    def get_links(self, entity: str, entity_id: int) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/entity-links-api
        # GET /api/v4/{entity}/{id}/links
        return list(self._paginate(f"/api/v4/{_entity(entity)}/{int(entity_id)}/links", "links"))

    # --- catalogs (products) -----------------------------------------------------------------------------

    def list_catalogs(self) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/catalogs-api
        # GET /api/v4/catalogs
        return list(self._paginate("/api/v4/catalogs", "catalogs"))

    def create_catalogs(self, catalogs: list[dict[str, Any]]) -> list[int]:
        # https://www.amocrm.ru/developers/content/crm_platform/catalogs-api
        # POST /api/v4/catalogs
        return self._create_batches("/api/v4/catalogs", "catalogs", catalogs)

    def iter_catalog_elements(self, catalog_id: int) -> Iterator[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/catalogs-api
        # GET /api/v4/catalogs/{id}/elements
        path = f"/api/v4/catalogs/{int(catalog_id)}/elements"
        return self._paginate(path, "elements", {"limit": PAGE_LIMIT})

    def create_catalog_elements(self, catalog_id: int, elements: list[dict[str, Any]]) -> list[int]:
        # https://www.amocrm.ru/developers/content/crm_platform/catalogs-api
        # POST /api/v4/catalogs/{id}/elements
        return self._create_batches(f"/api/v4/catalogs/{int(catalog_id)}/elements", "elements", elements)

    def update_catalog_elements(
        self, catalog_id: int, elements: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/catalogs-api
        # PATCH /api/v4/catalogs/{id}/elements
        return self._update_batches(f"/api/v4/catalogs/{int(catalog_id)}/elements", "elements", elements)

    # --- webhooks ----------------------------------------------------------------------------------------

    def list_webhooks(self, destination: str | None = None) -> list[dict[str, Any]]:
        # https://www.amocrm.ru/developers/content/crm_platform/webhooks-api
        # GET /api/v4/webhooks
        params = {"filter[destination]": destination} if destination else None
        return embedded(self._request("GET", "/api/v4/webhooks", params=params), "webhooks")

    def subscribe_webhook(self, destination: str, settings_: list[str], sort: int = 10) -> dict[str, Any]:
        # https://www.amocrm.ru/developers/content/crm_platform/webhooks-api
        # POST /api/v4/webhooks
        # (keyed by destination: sending it again updates the subscription)
        body = {"destination": destination, "settings": list(settings_), "sort": sort}
        return self._request("POST", "/api/v4/webhooks", json=body) or {}

    def unsubscribe_webhook(self, destination: str) -> None:
        # https://www.amocrm.ru/developers/content/crm_platform/webhooks-api
        # DELETE /api/v4/webhooks -> 204
        self._request("DELETE", "/api/v4/webhooks", json={"destination": destination})
