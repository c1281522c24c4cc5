"""Products in the sandbox's catalog: the catalog and its fields made once, elements upserted by SKU."""

from __future__ import annotations

from console.amocrm.account.setup import products_catalog_ensure
from console.amocrm.outbound.products import catalog_upsert


def test_catalog_upsert_creates_missing_updates_changed_and_skips_unchanged(amo_client, sandbox):
    catalog = products_catalog_ensure(amo_client)
    assert products_catalog_ensure(amo_client) == catalog
    fields = {"sku_field_id": catalog["sku_field_id"], "price_field_id": catalog["price_field_id"]}
    ids = catalog_upsert(
        amo_client,
        catalog["catalog_id"],
        [{"sku": "CH-1", "name": "Стул", "price": 150}, {"sku": "TB-1", "name": "Стол", "price": "990.00"}],
        **fields,
    )
    sandbox.control("POST", "/_sandbox/requests/clear")
    again = catalog_upsert(
        amo_client,
        catalog["catalog_id"],
        [{"sku": "CH-1", "name": "Стул", "price": 150}, {"sku": "TB-1", "name": "Стол", "price": 1200}],
        **fields,
    )
    assert again == ids
    counts = sandbox.requests()["counts"]
    path = f"/api/v4/catalogs/{catalog['catalog_id']}/elements"
    assert counts.get(f"POST {path}", 0) == 0 and counts.get(f"PATCH {path}") == 1
    lead_id = amo_client.create_leads([{"name": "With products"}])[0]
    amo_client.link(
        "leads",
        lead_id,
        [
            {
                "to_entity_id": ids["CH-1"],
                "to_entity_type": "catalog_elements",
                "metadata": {
                    "quantity": 3,
                    "catalog_id": catalog["catalog_id"],
                    "price_id": catalog["price_field_id"],
                },
            }
        ],
    )
    products = [
        link
        for link in amo_client.get_links("leads", lead_id)
        if link["to_entity_type"] == "catalog_elements"
    ]
    assert products[0]["metadata"]["quantity"] == 3
