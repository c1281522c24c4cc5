"""The sandbox WSGI application: state, seed data, the request pipeline (log, block, faults, auth, rate limit,
payment), routing of the amoCRM surface (the URL map is ``api/routes.py``), the manager's actions that fire
webhooks, and the reports behind the ``/_sandbox/`` control API."""

from __future__ import annotations

import copy
import os
import random
import re
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from . import control, oauth, ui, webhook_events
from .api.account import user_doc
from .api.common import ENTITIES, stamp
from .api.entities import save_entity, update_items, write_entity
from .api.links import put_link
from .api.notes import note_kind
from .api.routes import COMPILED_ROUTES
from .hooks import Dispatcher
from .http import (
    HttpError,
    Request,
    Response,
    ValidationFailed,
    html_response,
    json_response,
    nginx_403,
    problem,
    status_line,
)
from .seed import seed
from .store import Store

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/amocrm/oauth/callback/"

DEFAULT_CONFIG: dict[str, Any] = {
    "subdomain": "demo",
    "domain": "",
    "account_id": 31000001,
    "account_name": "Аренда мебели (песочница)",
    "rate_limit": 7,
    "retry_after": 1,
    "block_after": 20,
    "block_window": 60,
    "token_lifetime": 86400,
    "refresh_lifetime": 90 * 86400,
    "code_lifetime": 1200,
    "unpaid": False,
    "blocked": False,
    "webhooks_enabled": True,
    "webhook_timeout": 2.0,
    "webhook_retry_delays": [300, 900, 900, 3600],
    "webhook_disable_after": 100,
    "webhook_disable_window": 7200,
    "webhook_repost_enables": False,
}

ADMIN_ID, MANAGER_ID = 100001, 100002


class DropConnection(Exception):
    """Raised out of the WSGI app to make the server close the socket without an answer."""


def seeded_users() -> list[dict[str, Any]]:
    """The account's users as seeded: the admin (the connecting user) and two managers, with full rights."""
    return [
        user_doc(ADMIN_ID, "Администратор", "admin@example.com", admin=True),
        user_doc(MANAGER_ID, "Менеджер Анна", "anna@example.com"),
        user_doc(MANAGER_ID + 1, "Менеджер Борис", "boris@example.com"),
    ]


class Sandbox:
    """The whole sandbox: a WSGI callable plus its state."""

    def __init__(
        self,
        *,
        db: str = ":memory:",
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        subdomain: str = "demo",
        rate_limit: int = 7,
        token_lifetime: int = 86400,
    ) -> None:
        self.defaults = dict(
            DEFAULT_CONFIG, subdomain=subdomain, rate_limit=rate_limit, token_lifetime=token_lifetime
        )
        self.integration = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
        }
        self.store = Store(db)
        self.secret = b""
        self.started_at = int(time.time())
        self.amojo_id = str(uuid.uuid4())
        self.public_url = "http://127.0.0.1"
        self.admin_user_id = ADMIN_ID
        self.users = seeded_users()
        self.user_ids = {u["id"] for u in self.users}
        self._state_lock = threading.Lock()
        self.config: dict[str, Any] = {}
        self.faults: list[dict[str, Any]] = []
        self._fault_seq = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=200_000)
        self.counts: dict[str, int] = {}
        self._windows: dict[str, deque[float]] = {}
        self._excess: deque[float] = deque()
        self.hooks = Dispatcher(self)
        if self.store.count("pipeline"):
            self._resume()
        else:
            self.reset()

    def _resume(self) -> None:
        """Start on a database file that already holds a sandbox: keep its data and signing secret."""
        self.config = copy.deepcopy(self.defaults)
        meta = self.store.get("meta", "secret")
        self.secret = bytes.fromhex(meta["hex"]) if meta else os.urandom(32)
        self.store.put("meta", "secret", {"hex": self.secret.hex()})
        self.store.put(
            "integration", self.integration["client_id"], dict(self.integration, name="Консоль аренды")
        )

    # ------------------------------------------------------------ state
    @property
    def api_domain(self) -> str:
        return self.public_url.split("://", 1)[-1]

    def reset(self) -> None:
        """Back to the seeded state and CLI defaults; drops tokens, codes, faults, logs and deliveries."""
        with self.store.lock, self._state_lock:
            self.store.clear()
            self.secret = os.urandom(32)
            self.store.put("meta", "secret", {"hex": self.secret.hex()})
            self.config = copy.deepcopy(self.defaults)
            self.users[:] = seeded_users()
            self.faults = []
            self.log.clear()
            self.counts = {}
            self._windows = {}
            self._excess = deque()
            self.hooks.reset()
            seed(self)

    def actor(self, req: Request) -> int:
        """The user id API writes are attributed to (every token belongs to the admin)."""
        return ADMIN_ID

    def refresh_children(self, parent: str) -> list[tuple[str, dict[str, Any]]]:
        """Refresh tokens issued from ``parent`` as ``(token, record)`` pairs."""
        return [(d["token"], d) for d in self.store.all("refresh") if d.get("parent") == parent]

    def account_ref(self) -> dict[str, Any]:
        return {
            "subdomain": self.config["subdomain"],
            "id": self.config["account_id"],
            "_links": {"self": self.public_url},
        }

    # ------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        req = Request(environ)
        req.request_id = os.urandom(8).hex()
        path = req.path
        to_ui = path == "/" or path.startswith(("/_sandbox", "/leads/detail/"))
        try:
            resp = _answered(self._control_or_ui if to_ui else self._api_entry, req)
        except DropConnection:
            raise
        except Exception:
            traceback.print_exc()
            resp = json_response(
                500,
                {
                    "title": "ErrInternalServer",
                    "status": 500,
                    "detail": "Internal error",
                    "trace_id": req.request_id,
                },
                "application/problem+json",
            )
        if resp.drop:
            raise DropConnection
        headers = [*resp.headers, ("X-Request-Id", req.request_id), ("Content-Length", str(len(resp.body)))]
        start_response(status_line(resp.status), headers)
        return [resp.body]

    # ------------------------------------------------------------ API pipeline
    def _api_entry(self, req: Request) -> Response:
        entry = {
            "t": time.time(),
            "method": req.method,
            "path": req.path,
            "query": req.query_string,
            "status": None,
            "request_id": req.request_id,
            "client_id": None,
        }
        key = f"{req.method} {req.path}"
        with self._state_lock:
            self.log.append(entry)
            self.counts[key] = self.counts.get(key, 0) + 1
        resp = _answered(self._api_guarded, req)
        entry["status"] = 0 if resp.drop else resp.status
        entry["client_id"] = req.client_id
        return resp

    def _api_guarded(self, req: Request) -> Response:
        if self.config["blocked"]:
            return nginx_403()
        rule = self.take_fault(req) if self.faults else None
        if rule is not None:
            kind = rule["kind"]
            if kind == "slow":
                time.sleep(float(rule.get("seconds", 3)))
            elif kind != "drop_after":
                return self._fault_response(rule)
        resp = self._dispatch(req)
        if rule is not None and rule["kind"] == "drop_after":
            resp.drop = True
        return resp

    def _fault_response(self, rule: dict[str, Any]) -> Response:
        kind = rule["kind"]
        if kind == "drop":
            resp = Response(0)
            resp.drop = True
            return resp
        if kind == "429":
            if rule.get("html"):
                return html_response(429, "<html><body><h1>429 Too Many Requests</h1></body></html>")
            return self._too_many(rule.get("retry_after"))
        if kind == "500":
            body = {
                "title": "ErrInternalServer",
                "status": 500,
                "detail": "Internal error",
                "trace_id": os.urandom(8).hex(),
            }
            return json_response(500, body, "application/problem+json")
        if kind in ("502", "504"):
            code = int(kind)
            title = "502 Bad Gateway" if code == 502 else "504 Gateway Time-out"
            page = f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            page += f"<center><h1>{title}</h1></center>\r\n"
            return Response(
                code, (page + "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n").encode(), "text/html"
            )
        if kind == "401":
            return oauth.unauthorized().response
        if kind == "unpaid":
            return problem(402, "Payment required")
        return nginx_403()

    def _too_many(self, retry_after: Any = None) -> Response:
        wait = self.config["retry_after"] if retry_after is None else retry_after
        return problem(
            429,
            "You have sent too many requests. Please retry later.",
            title="Too Many Requests",
            retry_after=wait,
        )

    def take_fault(self, req: Request, kinds: set[str] | None = None) -> dict[str, Any] | None:
        """The first fault rule matching the request (consuming one of its ``times``), or None."""
        with self._state_lock:
            for rule in list(self.faults):
                if kinds is None and rule["kind"] == "revoked_refresh":
                    continue
                if kinds is not None and rule["kind"] not in kinds:
                    continue
                if rule.get("method") and rule["method"].upper() != req.method:
                    continue
                if rule.get("path") and not req.path.startswith(rule["path"]):
                    continue
                if rule.get("probability") is not None and random.random() >= float(rule["probability"]):
                    continue
                if rule.get("times") is not None:
                    rule["times"] -= 1
                    rule["fired"] = rule.get("fired", 0) + 1
                    if rule["times"] <= 0:
                        self.faults.remove(rule)
                return dict(rule)
        return None

    def take_fault_refresh(self, req: Request) -> bool:
        """True when a ``revoked_refresh`` rule fires for this refresh-token grant."""
        return bool(self.faults) and self.take_fault(req, {"revoked_refresh"}) is not None

    def _dispatch(self, req: Request) -> Response:
        path = req.path
        moved = oauth.moved_answer(self, req)
        if moved is not None:
            return moved
        if path.startswith("/api/v4/"):
            record = oauth.authenticate(self, req)
            req.client_id = record["client_id"]
            self._rate_check(record["client_id"])
            if self.config["unpaid"]:
                return problem(402, "Payment required")
            return self._route(req)
        if path == "/oauth2/access_token":
            if req.method != "POST":
                return problem(405, "Method not allowed")
            return oauth.token_endpoint(self, req)
        if path == "/oauth":
            return oauth.consent_page(self, req)
        if path == "/oauth2/account/current/subdomain":
            return oauth.subdomain_endpoint(self, req)
        return self._not_found(req)

    def _not_found(self, req: Request) -> Response:
        return problem(404, f"Cannot {req.method} {req.base}{req.path}")

    def _route(self, req: Request) -> Response:
        path = req.path.rstrip("/") if len(req.path) > 1 else req.path
        for pattern, methods in COMPILED_ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            handler = methods.get(req.method)
            if handler is None:
                return problem(405, "Method not allowed")
            return handler(self, req, *match.groups())
        return self._not_found(req)

    def _rate_check(self, key: str) -> None:
        limit = self.config["rate_limit"]
        if not limit:
            return
        now = time.monotonic()
        with self._state_lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) < int(limit):
                window.append(now)
                return
            self._excess.append(now)
            while self._excess and self._excess[0] < now - float(self.config["block_window"]):
                self._excess.popleft()
            if self.config["block_after"] and len(self._excess) > int(self.config["block_after"]):
                self.config["blocked"] = True
        raise HttpError(self._too_many())

    # ------------------------------------------------------------ manager actions
    def move_lead(
        self, lead_id: int, status_id: int, pipeline_id: int | None = None, loss_reason_id: int | None = None
    ) -> dict[str, Any]:
        """A manager moves a lead to another stage, closing it lost with ``loss_reason_id`` if given (fires
        update_lead and status_lead)."""
        item: dict[str, Any] = {"status_id": status_id}
        if pipeline_id is not None:
            item["pipeline_id"] = pipeline_id
        if loss_reason_id is not None:
            item["loss_reason_id"] = loss_reason_id
        (_, new), *_ = update_items(self, "leads", [item], MANAGER_ID, single_id=lead_id)
        return new

    def edit_entity(self, entity: str, eid: int, item: dict[str, Any]) -> dict[str, Any]:
        """A manager edits an entity in amoCRM (v4 write format; fires the update webhooks)."""
        (_, new), *_ = update_items(self, entity, [item], MANAGER_ID, single_id=eid)
        return new

    def create_by_manager(self, entity: str, item: dict[str, Any]) -> dict[str, Any]:
        """A manager creates an entity in amoCRM (fires the add webhook). A lead may list the products the
        manager adds in the card at once: ``catalog_elements: [{id, catalog_id, quantity}]``."""
        item = dict(item)
        elements = item.pop("catalog_elements", None) if entity == "leads" else None
        with self.store.atomic():
            errors: list[dict[str, str]] = []
            doc = write_entity(self, entity, item, None, MANAGER_ID, errors)
            picked = self._picked_elements(elements, errors)
            if errors:
                raise ValidationFailed([{"request_id": "0", "errors": errors}])
            doc = save_entity(self, entity, doc)
            for element_id, meta in picked:
                put_link(self, entity, doc["id"], "catalog_elements", element_id, meta)
        webhook_events.emit_changes(self, entity, [(None, doc)])
        return doc

    def _picked_elements(
        self, elements: Any, errors: list[dict[str, str]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """The catalog elements a manager picks for a new lead, as (element id, link metadata)."""
        picked = []
        for i, ref in enumerate(elements if isinstance(elements, list) else []):
            el = self.store.get("element", ref.get("id")) if isinstance(ref, dict) else None
            if el is None:
                errors.append(
                    {"code": "NotFound", "path": f"catalog_elements.{i}.id", "detail": "No element"}
                )
                continue
            quantity = ref.get("quantity", 1)
            picked.append((el["id"], {"catalog_id": el["catalog_id"], "quantity": quantity}))
        return picked

    def delete_entity(self, entity: str, eid: int, deleted: bool = True) -> bool:
        """A manager deletes a lead, contact or company (``deleted=False``: restores it from the trash),
        firing ``delete_*``/``restore_*``; False when there is no such entity in that state."""
        with self.store.atomic():
            doc = self.store.get(entity, eid)
            if doc is None or doc["is_deleted"] == deleted:
                return False
            doc.update(is_deleted=deleted, updated_at=stamp(doc["updated_at"]), updated_by=MANAGER_ID)
            self.store.put(entity, eid, doc)
        webhook_events.emit_removal(self, entity, doc, "delete" if deleted else "restore")
        return True

    # ------------------------------------------------------------ control + UI
    def _control_or_ui(self, req: Request) -> Response:
        if req.path == "/" or req.path.startswith(("/_sandbox/board", "/_sandbox/ui", "/leads/detail/")):
            return ui.handle(self, req)
        return control.handle(self, req)

    def requests_report(self, limit: int = 500) -> dict[str, Any]:
        """The request log: total, counts per ``METHOD path`` and per route, peak rate, latest entries."""
        with self._state_lock:
            entries = list(self.log)
            counts = dict(self.counts)
        routes: dict[str, int] = {}
        for key, n in counts.items():
            route = re.sub(r"/\d+", "/{id}", key)
            routes[route] = routes.get(route, 0) + n
        times = [e["t"] for e in entries]
        times.sort()
        peak, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] <= t - 1.0:
                lo += 1
            peak = max(peak, hi - lo + 1)
        statuses: dict[str, int] = {}
        for e in entries:
            statuses[str(e["status"])] = statuses.get(str(e["status"]), 0) + 1
        return {
            "total": len(entries),
            "counts": counts,
            "routes": routes,
            "statuses": statuses,
            "peak_rps": peak,
            "requests": entries[-limit:] if limit else [],
        }

    def clear_requests(self) -> None:
        with self._state_lock:
            self.log.clear()
            self.counts = {}

    def state_report(self) -> dict[str, Any]:
        """Counts of stored things, for tests."""
        leads = self.store.all("leads")
        return {
            "leads": sum(1 for d in leads if not d["is_deleted"]),
            "deleted_leads": sum(1 for d in leads if d["is_deleted"]),
            "contacts": self.store.count("contacts"),
            "companies": self.store.count("companies"),
            "notes": sum(self.store.count(note_kind(e)) for e in ENTITIES),
            "links": len([x for x in self.store.all("link") if x["entity_type"] <= x["to_entity_type"]]),
            "link_rows": self.store.count("link"),
            "catalogs": self.store.count("catalog"),
            "catalog_elements": self.store.count("element"),
            "webhooks": self.store.count("webhook"),
            "pending_webhooks": self.hooks.pending(),
            "deliveries": len(self.hooks.deliveries),
            "blocked": self.config["blocked"],
            "unpaid": self.config["unpaid"],
        }


def _answered(handler: Callable[[Request], Response], req: Request) -> Response:
    """``handler``'s response, or the error response an ``HttpError`` or a failed validation carries."""
    try:
        return handler(req)
    except HttpError as exc:
        return exc.response
    except ValidationFailed as exc:
        return exc.response()
