"""The ``/_sandbox/`` control API (JSON in, JSON out; never rate-limited, never logged as API traffic).

- ``GET /_sandbox/health`` -> ``{"ok": true}``; ``POST /_sandbox/reset`` -> ``{"ok": true}`` (seeded state,
  CLI defaults; drops data, tokens, codes, faults, the request log, queued and delivered webhooks, the block).
- ``GET /_sandbox/config`` / ``POST /_sandbox/config {key: value, ...}`` -> the whole config. Keys: subdomain,
  domain, account_id, account_name, rate_limit (0 = off), retry_after, block_after, block_window,
  token_lifetime, refresh_lifetime, code_lifetime, unpaid, blocked, webhooks_enabled, webhook_timeout,
  webhook_retry_delays (list of seconds), webhook_disable_after, webhook_disable_window,
  webhook_repost_enables. Unknown keys -> 400.
  ``domain`` (default ``""``: any ``Host`` is the account's) is the ``host[:port]`` the account lives on; once
  set, a request with another ``Host`` gets what amoCRM answers on the old host of a moved account: 401
  "Invalid user name or password" on ``/api/v4/...`` and 404 "Account not found" on
  ``/oauth2/access_token``. ``GET /oauth2/account/current/subdomain`` with ``X-Refresh-Token`` answers on
  every host, and its ``domain`` is this key (else the request's ``Host``).
- ``GET /_sandbox/state`` -> counts: leads, deleted_leads, contacts, companies, notes, links, link_rows,
  catalogs, catalog_elements, webhooks, pending_webhooks, deliveries, blocked, unpaid.
- ``GET|POST /_sandbox/integrations {client_id?, client_secret?, redirect_uri, name?}`` -> the integration
  (201).
- ``POST /_sandbox/oauth/code {client_id?, age?}`` -> ``{code, expires_at}`` (``age`` seconds backdates it).
- ``POST /_sandbox/long_lived_token {client_id?, lifetime?}`` -> ``{access_token, expires_at}``.
- ``POST /_sandbox/tokens/revoke {token}`` (access or refresh) -> ``{revoked: bool}``.
- ``POST /_sandbox/faults {kind, times?, probability?, method?, path?, seconds?, retry_after?, html?}`` (or
  ``{"rule": {...}}``; ``status`` is an alias of ``kind``) -> the rule with ``id`` (201); ``GET`` lists,
  ``DELETE`` clears. Kinds: 429, 500, 502, 504, slow (sleep ``seconds``, default 3, then answer normally),
  drop (close without answering), drop_after (process, then close without answering), 401, revoked_refresh
  (the next refresh_token grant revokes the token and answers 401 "Token has been revoked"), unpaid (402),
  blocked (nginx 403). ``path`` is a prefix, ``method`` exact; without ``times``/``probability`` a rule
  fires once.
- ``POST /_sandbox/unblock`` -> ``{"ok": true}``.
- ``GET /_sandbox/requests?limit=500`` -> ``{total, counts{"METHOD /path"}, routes{"METHOD /path/{id}"},
  statuses, peak_rps, requests[{t, method, path, query, status, request_id, client_id}]}``;
  ``POST /_sandbox/requests/clear``.
- ``GET /_sandbox/webhooks`` -> ``{deliveries[{id, destination, event, attempt, request_id, body, status,
  answer, error, ok, sent_at, duration}], pending, subscriptions}``; ``POST /_sandbox/webhooks/clear``.
- ``POST /_sandbox/webhooks/disable {destination?}`` -> ``{disabled: [destinations]}``: marks the
  subscription (every one without ``destination``) ``disabled`` as amoCRM does after too many failed answers;
  a re-POST of ``/api/v4/webhooks`` re-enables it.
- Manager actions (fire webhooks like amoCRM's UI): ``POST /_sandbox/leads/<id>/move {status_id,
  pipeline_id?, loss_reason_id?}``, ``POST /_sandbox/{leads|contacts|companies}/<id>/delete`` and
  ``.../<id>/restore`` (404 when there is nothing to delete or restore),
  ``POST /_sandbox/{leads|contacts|companies}/<id>/edit {v4 fields}``,
  ``POST /_sandbox/{leads|contacts|companies} {v4 fields}`` (create; a lead may take
  ``catalog_elements: [{id, quantity}]``, linked before its add webhook fires),
  ``POST /_sandbox/tasks/<id>/complete {result?}`` (the responsible closes it). Invalid input gets
  amoCRM's 400 ``validation-errors`` body.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from . import oauth
from .api import tasks as api_tasks
from .http import JSON, HttpError, Request, Response, ValidationFailed, json_response

if TYPE_CHECKING:
    from .app import Sandbox

FAULT_KINDS = {
    "429",
    "500",
    "502",
    "504",
    "slow",
    "drop",
    "drop_after",
    "401",
    "revoked_refresh",
    "unpaid",
    "blocked",
}


def ok(obj: Any = None, status: int = 200) -> Response:
    return json_response(status, {"ok": True} if obj is None else obj, JSON)


def bad(message: str, status: int = 400) -> HttpError:
    return HttpError(json_response(status, {"error": message}, JSON))


def body(req: Request) -> dict[str, Any]:
    raw = req.body.strip()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise bad("body is not JSON") from exc
    if not isinstance(data, dict):
        raise bad("body must be a JSON object")
    return data


def _config(sb: Sandbox, req: Request) -> Response:
    if req.method == "POST":
        data = body(req)
        unknown = sorted(set(data) - set(sb.config))
        if unknown:
            raise bad(f"unknown config keys: {', '.join(unknown)}")
        sb.config.update(data)
        if data.get("blocked") is False:
            sb._excess.clear()
    return ok(sb.config)


def _integrations(sb: Sandbox, req: Request) -> Response:
    if req.method == "GET":
        return ok({"integrations": sb.store.all("integration")})
    data = body(req)
    if not data.get("redirect_uri"):
        raise bad("redirect_uri is required")
    integration = {
        "client_id": data.get("client_id") or secrets.token_hex(16),
        "client_secret": data.get("client_secret") or secrets.token_urlsafe(32),
        "redirect_uri": data["redirect_uri"],
        "name": data.get("name") or "Integration",
    }
    sb.store.put("integration", integration["client_id"], integration)
    return ok(integration, 201)


def _client_id(sb: Sandbox, data: dict[str, Any]) -> str:
    client_id = data.get("client_id") or sb.integration["client_id"]
    if sb.store.get("integration", client_id) is None:
        raise bad(f"unknown client_id {client_id!r}", 404)
    return client_id


def _code(sb: Sandbox, req: Request) -> Response:
    data = body(req)
    return ok(oauth.mint_code(sb, _client_id(sb, data), int(data.get("age", 0))))


def _long_lived(sb: Sandbox, req: Request) -> Response:
    data = body(req)
    token, exp = oauth.issue_access_token(
        sb,
        client_id=_client_id(sb, data),
        lifetime=int(data.get("lifetime", 86400)),
        refresh=None,
        long_lived=True,
    )
    return ok({"access_token": token, "expires_at": exp})


def _revoke(sb: Sandbox, req: Request) -> Response:
    token = str(body(req).get("token") or "")
    with sb.store.atomic():
        claims = oauth.jwt_decode(sb.secret, token)
        kind, key = ("access", claims.get("jti")) if claims else ("refresh", token)
        doc = sb.store.get(kind, key)
        if doc:
            doc["revoked"] = True
            sb.store.put(kind, key, doc)
    return ok({"revoked": bool(doc)})


def _rights(sb: Sandbox, req: Request) -> Response:
    """POST /_sandbox/rights {user_id, entity: leads|contacts|companies, action: add|edit|..., value: A|D}:
    give or take away one of a user's rights (a taken "add" makes creates fail with amoCRM's error 244)."""
    data = body(req)
    user = next((u for u in sb.users if u["id"] == data.get("user_id")), None)
    entity, action, value = data.get("entity"), data.get("action"), data.get("value", "D")
    if user is None or entity not in ("leads", "contacts", "companies") or value not in ("A", "G", "M", "D"):
        raise bad("user_id must be a known user, entity leads|contacts|companies, value A|G|M|D")
    if action not in user["rights"][entity]:
        raise bad(f"action must be one of {sorted(user['rights'][entity])}")
    with sb._state_lock:
        user["rights"][entity][action] = value
    return ok({"user_id": user["id"], "rights": user["rights"]})


def _faults(sb: Sandbox, req: Request) -> Response:
    if req.method == "DELETE":
        with sb._state_lock:
            sb.faults = []
        return ok()
    if req.method == "GET":
        return ok({"faults": sb.faults})
    data = body(req)
    rule = dict(data.get("rule") or data)
    kind = str(rule.get("kind") or rule.get("status") or "")
    if kind not in FAULT_KINDS:
        raise bad(f"kind must be one of {sorted(FAULT_KINDS)}")
    rule["kind"] = kind
    rule.pop("status", None)
    if rule.get("times") is None and rule.get("probability") is None:
        rule["times"] = 1
    with sb._state_lock:
        sb._fault_seq += 1
        rule["id"] = sb._fault_seq
        sb.faults.append(rule)
    return ok(rule, 201)


def _unblock(sb: Sandbox, req: Request) -> Response:
    with sb._state_lock:
        sb.config["blocked"] = False
        sb._excess.clear()
        sb._windows.clear()
    return ok()


def _requests(sb: Sandbox, req: Request) -> Response:
    return ok(sb.requests_report(int(req.arg("limit") or 500)))


def _requests_clear(sb: Sandbox, req: Request) -> Response:
    sb.clear_requests()
    return ok()


def _webhooks(sb: Sandbox, req: Request) -> Response:
    deliveries = list(sb.hooks.deliveries)
    return ok(
        {
            "deliveries": deliveries,
            "pending": sb.hooks.pending(),
            "subscriptions": sb.store.all("webhook"),
        }
    )


def _webhooks_clear(sb: Sandbox, req: Request) -> Response:
    sb.hooks.reset()
    return ok()


def _webhooks_disable(sb: Sandbox, req: Request) -> Response:
    dest = body(req).get("destination")
    done = []
    with sb.store.atomic():
        for sub in sb.store.all("webhook"):
            if dest in (None, sub["destination"]):
                sub["disabled"] = True
                sb.store.put("webhook", sub["destination"], sub)
                done.append(sub["destination"])
    if dest is not None and not done:
        raise bad("no such webhook", 404)
    return ok({"disabled": done})


def _lead_view(lead: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in lead.items() if not k.startswith("_")}


def _move(sb: Sandbox, req: Request, lead_id: str) -> Response:
    data = body(req)
    if not isinstance(data.get("status_id"), int):
        raise bad("status_id (int) is required")
    lead = sb.move_lead(int(lead_id), data["status_id"], data.get("pipeline_id"), data.get("loss_reason_id"))
    return ok(_lead_view(lead))


def _delete_or_restore(sb: Sandbox, req: Request, entity: str, eid: str, action: str) -> Response:
    if not sb.delete_entity(entity, int(eid), deleted=action == "delete"):
        raise bad(f"no {entity} {eid} to {action}", 404)
    return ok()


def _edit(sb: Sandbox, req: Request, entity: str, eid: str) -> Response:
    return ok(_lead_view(sb.edit_entity(entity, int(eid), body(req))))


def _complete_task(sb: Sandbox, req: Request, tid: str) -> Response:
    """The responsible manager closes a task in amoCRM's UI: fires ``update_task`` with ``action_close=1``."""
    task = sb.store.get(api_tasks.KIND, int(tid))
    if task is None:
        raise bad(f"no task {tid}", 404)
    result = body(req).get("result") or "Done"
    item = {"is_completed": True, "result": {"text": result}}
    ((_, new),) = api_tasks.update_tasks(sb, [item], task["responsible_user_id"], single_id=int(tid))
    return ok({k: v for k, v in new.items() if not k.startswith("_")})


def _create(sb: Sandbox, req: Request, entity: str) -> Response:
    return ok(_lead_view(sb.create_by_manager(entity, body(req))), 201)


ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/_sandbox/health", {"GET": lambda sb, req: ok()}),
    ("/_sandbox/reset", {"POST": lambda sb, req: (sb.reset(), ok())[1]}),
    ("/_sandbox/config", {"GET": _config, "POST": _config}),
    ("/_sandbox/state", {"GET": lambda sb, req: ok(sb.state_report())}),
    ("/_sandbox/integrations", {"GET": _integrations, "POST": _integrations}),
    ("/_sandbox/oauth/code", {"POST": _code}),
    ("/_sandbox/long_lived_token", {"POST": _long_lived}),
    ("/_sandbox/tokens/revoke", {"POST": _revoke}),
    ("/_sandbox/faults", {"GET": _faults, "POST": _faults, "DELETE": _faults}),
    ("/_sandbox/rights", {"POST": _rights}),
    ("/_sandbox/unblock", {"POST": _unblock}),
    ("/_sandbox/requests", {"GET": _requests}),
    ("/_sandbox/requests/clear", {"POST": _requests_clear}),
    ("/_sandbox/webhooks", {"GET": _webhooks}),
    ("/_sandbox/webhooks/clear", {"POST": _webhooks_clear}),
    ("/_sandbox/webhooks/disable", {"POST": _webhooks_disable}),
    (r"/_sandbox/leads/(\d+)/move", {"POST": _move}),
    (r"/_sandbox/(leads|contacts|companies)/(\d+)/(delete|restore)", {"POST": _delete_or_restore}),
    (r"/_sandbox/(leads|contacts|companies)/(\d+)/edit", {"POST": _edit}),
    (r"/_sandbox/(leads|contacts|companies)", {"POST": _create}),
    (r"/_sandbox/tasks/(\d+)/complete", {"POST": _complete_task}),
]
_COMPILED = [(re.compile(p), m) for p, m in ROUTES]


def handle(sb: Sandbox, req: Request) -> Response:
    """Dispatch a control request; validation problems of manager actions come back as amoCRM's 400 body."""
    path = req.path.rstrip("/")
    for pattern, methods in _COMPILED:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        handler = methods.get(req.method)
        if handler is None:
            raise bad("method not allowed", 405)
        try:
            return handler(sb, req, *match.groups())
        except ValidationFailed as exc:
            return exc.response()
    raise bad(f"no control endpoint {req.method} {req.path}", 404)
