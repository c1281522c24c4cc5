"""The products step: our products as elements of amoCRM's products catalog, and each deal's product links.

Catalog elements: https://www.amocrm.ru/developers/content/crm_platform/catalogs-api
Links of a deal (products with quantity, contact, company):
https://www.amocrm.ru/developers/content/crm_platform/entity-links-api
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from console.amocrm.account.setup import products_catalog_ensure
from console.amocrm.api.client import AmoCRMClient, amo_number, cf_values
from console.amocrm.api.transport import BATCH_SIZE
from console.amocrm.models import AmoConnection, CatalogElementLink
from console.amocrm.outbound import payloads
from console.amocrm.outbound.job import Job, Run, mass_link, sync_save
from console.amocrm.outbound.unconfirmed import ELEMENT, creates_forget, creates_sending


def lead_products(client: AmoCRMClient, lead_id: int) -> dict[int, int]:
    """``{element_id: quantity}`` currently linked to the lead in amoCRM."""
    result = {}
    for link in client.get_links("leads", int(lead_id)) or []:
        if link.get("to_entity_type") == "catalog_elements":
            result[int(link["to_entity_id"])] = int((link.get("metadata") or {}).get("quantity") or 1)
    return result


def _element_values(product: dict[str, Any], sku_field_id: int, price_field_id: int) -> list[dict[str, Any]]:
    return [
        {"field_id": sku_field_id, "values": [{"value": str(product["sku"])}]},
        {"field_id": price_field_id, "values": [{"value": amo_number(product["price"])}]},
    ]


def catalog_upsert(
    client: AmoCRMClient,
    catalog_id: int,
    products: list[dict[str, Any]],
    *,
    sku_field_id: int,
    price_field_id: int,
) -> dict[str, int]:
    """Make the catalog hold ``products`` (``[{"sku", "name", "price"}]``): find elements by SKU, create the
    missing ones, update name and price where they changed. Returns ``{sku: element_id}``; an unchanged
    element costs no write."""
    existing: dict[str, dict[str, Any]] = {}
    for element in client.iter_catalog_elements(catalog_id):
        for sku in cf_values(element, field_id=sku_field_id):
            existing.setdefault(sku, element)
    result: dict[str, int] = {}
    to_create, to_update = [], []
    for product in products:
        element = existing.get(str(product["sku"]))
        if element is None:
            to_create.append(product)
            continue
        result[str(product["sku"])] = element["id"]
        prices = cf_values(element, field_id=price_field_id)
        same_price = bool(prices) and Decimal(str(prices[0] or 0)) == Decimal(str(product["price"]))
        if not same_price or element.get("name") != product["name"]:
            values = _element_values(product, sku_field_id, price_field_id)
            to_update.append({"id": element["id"], "name": product["name"], "custom_fields_values": values})
    if to_create:
        payload = [
            {"name": p["name"], "custom_fields_values": _element_values(p, sku_field_id, price_field_id)}
            for p in to_create
        ]
        ids = client.create_catalog_elements(catalog_id, payload)
        result.update({str(p["sku"]): int(i) for p, i in zip(to_create, ids, strict=True)})
    if to_update:
        client.update_catalog_elements(catalog_id, to_update)
    return result


def _catalog_ids(run: Run) -> tuple[int, int, int]:
    """The catalog id and its SKU and PRICE field ids, found or created (and stored) if setup has not run."""
    conn = run.connection
    if not (conn.products_catalog_id and conn.product_sku_field_id and conn.product_price_field_id):
        found = products_catalog_ensure(run.amo)
        conn.products_catalog_id = int(found["catalog_id"])
        conn.product_sku_field_id = int(found["sku_field_id"])
        conn.product_price_field_id = int(found["price_field_id"])
        AmoConnection.objects.filter(pk=conn.pk).update(
            products_catalog_id=conn.products_catalog_id,
            product_sku_field_id=conn.product_sku_field_id,
            product_price_field_id=conn.product_price_field_id,
        )
    return int(conn.products_catalog_id), int(conn.product_sku_field_id), int(conn.product_price_field_id)


def elements_ensure(run: Run, jobs: list[Job]) -> None:
    """Make sure every SKU of these orders is a catalog element with the current name and price.

    The write is marked as sent (``outbound.unconfirmed``, kind ``element``, by product) while it runs: after
    a lost answer, the orders of those products wait until it has settled before the catalog is read again
    (the engine), so an element amoCRM created late is found by its SKU, not created twice."""
    products = {item.product.sku: item.product for job in jobs for item in job.target.lines}
    if not products:
        return
    known = {link.sku: link for link in CatalogElementLink.objects.filter(sku__in=list(products))}
    stale, stale_pks = [], []
    for sku, product in products.items():
        payload = payloads.catalog_product(product)
        link = known.get(sku)
        fresh = link and link.payload_hash == payloads.stable_hash(payload)
        if fresh and link.catalog_id == run.connection.products_catalog_id:
            run.elements[sku] = int(link.element_id)
        else:
            stale.append(payload)
            stale_pks.append(product.pk)
    if not stale:
        return
    catalog_id, sku_field_id, price_field_id = _catalog_ids(run)
    with creates_sending(ELEMENT, stale_pks, holder=run.holder):
        ids = catalog_upsert(
            run.amo, catalog_id, stale, sku_field_id=sku_field_id, price_field_id=price_field_id
        )
    for payload in stale:
        element_id = int(ids[payload["sku"]])
        run.elements[payload["sku"]] = element_id
        CatalogElementLink.objects.update_or_create(
            sku=payload["sku"],
            defaults={
                "catalog_id": catalog_id,
                "element_id": element_id,
                "payload_hash": payloads.stable_hash(payload),
            },
        )
    creates_forget(ELEMENT, stale_pks, holder=run.holder)


def pushed_products_reread(run: Run, jobs: list[Job]) -> None:
    """A manager's push: read each existing deal's product links from amoCRM instead of trusting what we
    remember, so manual edits in amoCRM are put right."""
    for job in jobs:
        if job.event == "push" and job.sync.lead_id and not job.new_lead:
            current = lead_products(run.amo, job.sync.lead_id)
            job.sync.pushed_products = {str(k): v for k, v in current.items()}


def _link_diff(run: Run, job: Job, wanted: dict[int, int]) -> tuple[list[dict], list[dict]]:
    """The link and unlink items taking ``job``'s deal from what was pushed to ``wanted`` and its customer."""
    catalog_id = run.connection.products_catalog_id
    price_id = run.connection.product_price_field_id
    sync, lead = job.sync, int(job.sync.lead_id)
    diff = payloads.products_diff({int(k): v for k, v in (sync.pushed_products or {}).items()}, wanted)
    element = {"to_entity_type": "catalog_elements", "metadata": {"catalog_id": catalog_id}}
    unlink = [mass_link(lead, {"to_entity_id": element_id, **element}) for element_id in diff.unlink]
    link = [
        mass_link(lead, payloads.product_link(element_id, qty, catalog_id=catalog_id, price_id=price_id))
        for element_id, qty in diff.link.items()
    ]
    for kind, old, new in (
        ("contacts", sync.contact_id, job.contact_id),
        ("companies", sync.company_id, job.company_id),
    ):
        if old == new:
            continue
        if old:
            unlink.append(mass_link(lead, {"to_entity_id": int(old), "to_entity_type": kind}))
        if new:
            meta = {"metadata": {"is_main": True}} if kind == "contacts" else {}
            link.append(mass_link(lead, {"to_entity_id": int(new), "to_entity_type": kind, **meta}))
    return link, unlink


def links_sync(run: Run, jobs: list[Job]) -> None:
    """Products (quantity, price id), contact and company links of each deal, unlinks first, 50 a call."""
    link_items, unlink_items, changed = [], [], []
    for job in jobs:
        wanted = {run.elements[sku]: qty for sku, qty in job.target.products.items() if sku in run.elements}
        link, unlink = _link_diff(run, job, wanted)
        link_items += link
        unlink_items += unlink
        if link or unlink:
            changed.append((job, wanted))
    for start in range(0, len(unlink_items), BATCH_SIZE):
        run.amo.unlink_many("leads", unlink_items[start : start + BATCH_SIZE])
    for start in range(0, len(link_items), BATCH_SIZE):
        run.amo.link_many("leads", link_items[start : start + BATCH_SIZE])
    for job, wanted in changed:
        job.sync.pushed_products = {str(k): v for k, v in wanted.items()}
        job.sync.contact_id, job.sync.company_id = job.contact_id, job.company_id
        job.action = job.action or "update"
        sync_save(job.sync, "pushed_products", "contact_id", "company_id")
