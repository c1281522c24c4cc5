"""The URL map of ``/api/v4``: a path pattern and, per HTTP method, the handler it calls with the groups the
pattern captured. ``Sandbox._route`` walks ``COMPILED_ROUTES`` in order (the first matching pattern wins)."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..http import Response
from . import (
    account,
    catalogs,
    custom_fields,
    entities,
    leads_complex,
    links,
    loss_reasons,
    notes,
    pipelines,
    tags,
    tasks,
    webhooks,
)

E = r"(leads|contacts|companies)"
N = r"(\d+)"

Handler = Callable[..., Response]

API_ROUTES: list[tuple[str, dict[str, Handler]]] = [
    ("/account", {"GET": account.account}),
    ("/users", {"GET": account.users}),
    ("/leads/complex", {"POST": leads_complex.leads_complex}),
    ("/leads/loss_reasons", {"GET": loss_reasons.loss_reasons_list}),
    (f"/leads/loss_reasons/{N}", {"GET": loss_reasons.loss_reason_get}),
    ("/leads/pipelines", {"GET": pipelines.pipelines}),
    (f"/leads/pipelines/{N}", {"GET": pipelines.pipeline}),
    (f"/leads/pipelines/{N}/statuses", {"GET": pipelines.statuses}),
    (f"/leads/pipelines/{N}/statuses/{N}", {"GET": pipelines.status}),
    (
        "/catalogs",
        {"GET": catalogs.catalogs_list, "POST": catalogs.catalogs_create, "PATCH": catalogs.catalogs_update},
    ),
    (f"/catalogs/{N}", {"GET": catalogs.catalog_get}),
    (
        f"/catalogs/{N}/elements",
        {"GET": catalogs.elements_list, "POST": catalogs.elements_write, "PATCH": catalogs.elements_write},
    ),
    (f"/catalogs/{N}/elements/{N}", {"GET": catalogs.element_get}),
    (f"/catalogs/{N}/custom_fields", {"GET": custom_fields.catalog_fields_list}),
    ("/tasks", {"GET": tasks.tasks_list, "POST": tasks.tasks_create, "PATCH": tasks.tasks_update}),
    (f"/tasks/{N}", {"GET": tasks.task_get, "PATCH": tasks.task_update_one}),
    (
        "/webhooks",
        {
            "GET": webhooks.webhooks_list,
            "POST": webhooks.webhooks_subscribe,
            "DELETE": webhooks.webhooks_delete,
        },
    ),
    (
        f"/{E}/custom_fields",
        {"GET": custom_fields.custom_fields_list, "POST": custom_fields.custom_fields_create},
    ),
    (f"/{E}/custom_fields/{N}", {"GET": custom_fields.custom_field_one}),
    (f"/{E}/tags", {"GET": tags.tags_list, "POST": tags.tags_create}),
    (f"/{E}/notes", {"GET": notes.notes_list, "POST": notes.notes_create}),
    (f"/{E}/notes/{N}", {"GET": notes.note_get}),
    (f"/{E}/links", {"GET": links.mass_links_list}),
    (f"/{E}/link", {"POST": lambda sb, req, e: links.link_entities(sb, req, e)}),
    (f"/{E}/unlink", {"POST": lambda sb, req, e: links.link_entities(sb, req, e, unlink=True)}),
    (f"/{E}/{N}/links", {"GET": links.entity_links_list}),
    (f"/{E}/{N}/link", {"POST": lambda sb, req, e, i: links.link_entities(sb, req, e, i)}),
    (f"/{E}/{N}/unlink", {"POST": lambda sb, req, e, i: links.link_entities(sb, req, e, i, unlink=True)}),
    (f"/{E}/{N}/notes", {"GET": notes.notes_list, "POST": notes.notes_create}),
    (f"/{E}/{N}/notes/{N}", {"GET": lambda sb, req, e, i, n: notes.note_get(sb, req, e, n, i)}),
    (f"/{E}/{N}", {"GET": entities.entity_get, "PATCH": entities.entity_update_one}),
    (f"/{E}", {"GET": entities.entity_list, "POST": entities.entity_create, "PATCH": entities.entity_update}),
]
COMPILED_ROUTES = [(re.compile("/api/v4" + pattern), methods) for pattern, methods in API_ROUTES]
