"""Soak: the whole console under a storm, then the invariants that must hold once it settles.

Run: ``.venv/bin/python -m tests.bench.soak [--mode embedded|scale-out|both] [--quick]``.

On a ``Stack`` (``tests/fixtures/stack.py``: gunicorn and the clusters, SQLite + ORM broker embedded, two
clusters on PostgreSQL + Redis scale-out) against a sandbox that subscribes its webhooks to the console:

- storefront clients (threads, one per group of customers, so one person's checkouts come one after
  another) post ``orders`` orders of ``customers`` customers to ``POST /api/v1/orders/``;
- a manager (session login) changes the status of orders of one half through the API, while in amoCRM (the
  sandbox's manager actions) deals of the other half move stage, each move sending its webhooks;
- the soak posts ``deliveries`` more deliveries to the intake: duplicates of real ones, out-of-order ones
  (an older stage, an older time), malformed bodies, a wrong secret, forged ones dated in the future;
- the sandbox injects 10 % 429, 5 % 5xx, 2 % answers slower than the console's read timeout, drops the
  answer after creating a lead, a contact or a note, expires the access token once (a 401), and revokes the
  refresh token once (the console goes ``revoked``; it is connected again through the code exchange);
- one qcluster is killed with SIGKILL in the middle and started again.

Then, faults still on, it waits until every order is synced and no delivery is pending, and checks
against the sandbox: every order ``synced`` with exactly one deal, one contact per customer, one creation
note per deal, each deal at the stage its order's status maps to, every stored delivery applied or recorded
with its reason (none pending or failed), no 5xx from the console; and prints the time to converge.
:func:`run` returns the figures of one mode (``checks``: name -> met); :func:`main` exits 1 when one fails.
Not collected by pytest; ``tests/amocrm/test_soak.py`` runs the ``REDUCED`` scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.sandbox import SandboxHandle, start_sandbox  # noqa: E402
from tests.fixtures.stack import MODES, Stack  # noqa: E402
from tests.fixtures.waiting import wait_until  # noqa: E402

OPEN = ("new", "reserved", "in_rent", "in_progress")  # the statuses both sides move orders between
MANAGER, PASSWORD = "soak-manager", "soak-manager-password-1"
READ_TIMEOUT = 3  # the console's (seconds); a "slow" fault answers after READ_TIMEOUT + 1
CRAFTED = {"duplicate": 0.35, "out_of_order": 0.25, "future": 0.15, "malformed": 0.125, "wrong_secret": 0.125}
STAGES = "select order_status, pipeline_id, status_id from amocrm_stagemapping where is_active"
SYNCED = (
    "select o.id, s.lead_id, o.status from orders_order o join amocrm_ordersync s on s.order_id = o.id "
    "where s.state = 'synced' and s.lead_id is not null"
)
ORDERS = (
    "select o.id, o.number, o.status, s.state, s.lead_id from orders_order o "
    "join amocrm_ordersync s on s.order_id = o.id"
)


@dataclasses.dataclass(frozen=True)
class Scale:
    """How much load, and how long the console may take to settle afterwards."""

    orders: int = 1000
    customers: int = 400
    deliveries: int = 2000
    edits: int = 300
    moves: int = 500
    clients: int = 8
    rate_limit: int = 7  # requests/s, amoCRM's limit, enforced by the sandbox as well
    converge_timeout: float = 1800.0


FULL = Scale()
REDUCED = Scale(orders=60, customers=30, deliveries=150, edits=20, moves=30, clients=4, rate_limit=50,
                converge_timeout=900.0)  # fmt: skip


def faults(sandbox: SandboxHandle) -> None:
    """The storm's fault rules (the first matching rule fires; a probability rule that does not fire passes
    the request on): lost answers of creates, one expired token, then 429s, 5xx and slow answers."""
    for path in ("/api/v4/leads/complex", "/api/v4/contacts", "/api/v4/leads/notes", "/api/v4/leads"):
        sandbox.fault(kind="drop_after", method="POST", path=path, times=3)
    sandbox.fault(kind="401", path="/api/v4/", times=1)
    sandbox.fault(kind="429", path="/api/v4/", probability=0.10)
    for kind in ("500", "502", "504"):
        sandbox.fault(kind=kind, path="/api/v4/", probability=0.017)
    sandbox.fault(kind="slow", path="/api/v4/", probability=0.02, seconds=READ_TIMEOUT + 1)


class Soak:
    """One soak run on a started stack: the load, the episodes, the wait, the checks."""

    def __init__(self, stack: Stack, scale: Scale, seed: int = 7) -> None:
        self.stack, self.scale, self.sandbox = stack, scale, stack.sandbox
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.answers: Counter[str] = Counter()  # "<what> <status>" -> count
        self.episodes: dict[str, float] = {}
        self.hook_url = self._hook_url()
        self.stages = {status: (pipeline, stage) for status, pipeline, stage in stack.query(STAGES)}

    def _hook_url(self) -> str:
        subscriptions = self.sandbox.control("GET", "webhooks")["subscriptions"]
        return next(s["destination"] for s in subscriptions if s["destination"].startswith(self.stack.url))

    def count(self, what: str, status: int) -> None:
        with self.lock:
            self.answers[f"{what} {status}"] += 1

    # --- the load ------------------------------------------------------------------------------------------

    def post_orders(self, client: int) -> None:
        """Client ``client``'s customers check out one order after another."""
        http = requests.Session()
        for n in range(self.scale.orders):
            customer = n % self.scale.customers
            if customer % self.scale.clients != client:
                continue
            payload = self.stack.order_payload(phone=f"+7 903 {customer:07d}", quantity=1 + n % 4,
                                               product=n % self.stack.products)  # fmt: skip
            self.count(
                "order", http.post(self.stack.url + "/api/v1/orders/", json=payload, timeout=30).status_code
            )

    def synced(self, half: int) -> list[tuple[int, int, str]]:
        """``(order_id, lead_id, status)`` of the synced orders of half 0 (the manager's) or 1 (amoCRM's)."""
        rows = self.stack.query(SYNCED)
        return [row for row in rows if row[0] % 2 == half and row[2] in OPEN]

    def pick(self, half: int, used: Counter[int], share: int) -> tuple[int, int, str]:
        """A synced order of ``half``, among the least ``used`` ones (``share`` uses each at most; waits for
        more orders to be synced meanwhile): the load spreads over the orders as they come."""
        per_order = -(-share // max(1, self.scale.orders // 2))
        fresh = wait_until(
            lambda: [r for r in self.synced(half) if used[r[0]] < per_order], 300, what="an order"
        )
        least = min(used[r[0]] for r in fresh)
        row = self.random.choice([r for r in fresh if used[r[0]] == least])
        used[row[0]] += 1
        return row

    def manager_edits(self) -> None:
        """The manager moves orders of half 0 to another status through the API (session and CSRF)."""
        http, used = self.stack.login(MANAGER, PASSWORD), Counter()
        for _ in range(self.scale.edits):
            order_id, _lead, status = self.pick(0, used, self.scale.edits)
            body = {"status": self.random.choice([s for s in OPEN if s != status])}
            answer = http.patch(f"{self.stack.url}/api/v1/orders/{order_id}/", json=body, timeout=30,
                                headers={"X-CSRFToken": http.cookies["csrftoken"]})  # fmt: skip
            self.count("edit", answer.status_code)

    def amo_moves(self) -> None:
        """Managers in amoCRM move deals of half 1 to another stage (the sandbox sends the webhooks)."""
        used: Counter[int] = Counter()
        for _ in range(self.scale.moves):
            _order, lead_id, status = self.pick(1, used, self.scale.moves)
            pipeline_id, status_id = self.stages[self.random.choice([s for s in OPEN if s != status])]
            self.sandbox.move_lead(lead_id, status_id, pipeline_id)

    def crafted(self) -> None:
        """``deliveries`` deliveries of the ``CRAFTED`` kinds, from a sender of our own."""
        http, used = requests.Session(), Counter()
        kinds = [k for k, share in CRAFTED.items() for _ in range(round(share * self.scale.deliveries))]
        self.random.shuffle(kinds)
        forged = sum(1 for kind in kinds if kind in ("out_of_order", "future"))
        sent: list[
            str
        ] = []  # bodies the sandbox delivered (the originals of duplicates), re-read now and then
        for n, kind in enumerate(kinds):
            if kind == "duplicate" and (not sent or n % 25 == 0):
                sent = [d["body"] for d in self.sandbox.webhooks() if d.get("ok")]
            url, body = self._delivery(kind, used, forged, sent)
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "amoCRM-Webhooks/3.0",
            }
            self.count(f"hook:{kind}", http.post(url, data=body, headers=headers, timeout=30).status_code)

    def _delivery(self, kind: str, used: Counter[int], forged: int, sent: list[str]) -> tuple[str, bytes]:
        if kind == "malformed":
            return self.hook_url, b"leads[status][0][id]=%%%&&account[id]=[[[" + bytes([0xFF, 0xFE])
        if kind == "wrong_secret":
            return self.hook_url.rstrip("/").rsplit("/", 1)[0] + "/not-the-secret-0123456789abcdef/", b"x=1"
        if kind == "duplicate" and sent:
            return self.hook_url, self.random.choice(sent).encode()
        _order, lead_id, status = self.pick(1, used, forged)
        claimed = self.random.choice([s for s in OPEN if s != status])
        modified = int(time.time()) + (86400 if kind == "future" else -3600)
        return self.hook_url, self._status_body(lead_id, claimed, status, modified)

    def _status_body(self, lead_id: int, status: str, old: str, modified: int) -> bytes:
        account = self.sandbox.control("GET", "config")
        pipeline_id, status_id = self.stages[status]
        fields = {"id": lead_id, "status_id": status_id, "old_status_id": self.stages[old][1],
                  "pipeline_id": pipeline_id, "last_modified": modified}  # fmt: skip
        pairs = [(f"leads[status][0][{k}]", str(v)) for k, v in fields.items()]
        pairs += [("account[subdomain]", account["subdomain"]), ("account[id]", str(account["account_id"]))]
        return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs).encode()

    # --- the episodes ---------------------------------------------------------------------------------------

    def progress(self) -> float:
        return (
            self.stack.query("select count(*) from amocrm_ordersync where state = 'synced'")[0][0]
            / self.scale.orders
        )

    def connection(self) -> str:
        return self.stack.query("select state from amocrm_amoconnection where id = 1")[0][0]

    def revoke_and_reconnect(self) -> None:
        """The refresh token is revoked: the next refresh fails and the console goes ``revoked``; an admin
        connects it again (a code minted through the sandbox, exchanged by the code-exchange service)."""
        self.sandbox.fault(kind="revoked_refresh", times=1)
        self.sandbox.fault(kind="401", path="/api/v4/", times=1)
        started = time.monotonic()
        wait_until(lambda: self.connection() == "revoked", 300, what="the connection to be revoked")
        self.stack.manage("amocrm_connect_sandbox", "--url", self.sandbox.url, "--no-setup")
        self.episodes["revoked_s"] = time.monotonic() - started

    def kill_and_restart(self) -> None:
        self.stack.kill_cluster(0)
        self.stack.restart_cluster(0)
        self.episodes["killed_at_progress"] = self.progress()

    def episode_when(self, share: float, episode: Any) -> None:
        wait_until(lambda: self.progress() >= share, self.scale.converge_timeout, what=f"{share:.0%} synced")
        episode()

    # --- settling and the checks --------------------------------------------------------------------------

    def settled(self) -> bool:
        states = dict(self.stack.query("select state, count(*) from amocrm_ordersync group by state"))
        pending = self.stack.query("select count(*) from amocrm_webhookinbox where outcome = 'pending'")[0][0]
        return (
            states.get("synced") == self.scale.orders
            and not pending
            and not self.sandbox.stats()["pending_webhooks"]
        )

    def run(self) -> dict[str, Any]:
        self.stack.shell(
            "from django.contrib.auth.models import Group, User\n"
            f"u = User.objects.create_user({MANAGER!r}, password={PASSWORD!r}, is_staff=True)\n"
            "u.groups.add(Group.objects.get(name='manager'))"
        )
        faults(self.sandbox)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.scale.clients + 3) as pool:
            load = [pool.submit(self.post_orders, c) for c in range(self.scale.clients)]
            load += [pool.submit(self.manager_edits), pool.submit(self.amo_moves), pool.submit(self.crafted)]
            self.episode_when(0.3, self.revoke_and_reconnect)
            self.episode_when(0.6, self.kill_and_restart)
            for future in load:
                future.result()
        loaded = time.monotonic()
        wait_until(self.settled, self.scale.converge_timeout, what="every order synced, no delivery pending")
        settled = time.monotonic()
        self.sandbox.clear_faults()
        self.sandbox.configure(rate_limit=0)
        return {"load_s": loaded - started, "converge_s": settled - loaded, **self.episodes, **self.checks()}

    def checks(self) -> dict[str, Any]:
        """The invariants, read from the stack's database and the sandbox (faults and rate limit off)."""
        orders = self.stack.query(ORDERS)
        leads = {lead["id"]: lead for lead in self.stack.entities("leads")}
        deals_per_number = Counter(lead["name"].split()[1] for lead in leads.values())
        notes = self.stack.entities("leads/notes")
        creation = Counter(n["entity_id"] for n in notes if is_creation_note(n["params"].get("text") or ""))
        customers = self.stack.query("select count(*) from customers_customer")[0][0]
        inbox = dict(self.stack.query("select outcome, count(*) from amocrm_webhookinbox group by outcome"))
        unexplained = self.stack.query(
            "select count(*) from amocrm_webhookinbox where cast(reasons as text) = '[]'"
        )[0][0]
        problems = self.stack.query(
            "select id, outcome, events, reasons from amocrm_webhookinbox "
            "where outcome in ('pending', 'failed') order by id limit 5"
        )
        hooks = Counter(str(d.get("status")) for d in self.sandbox.webhooks())
        answers = dict(self.answers)
        errors = sum(n for key, n in answers.items() if key.rsplit(" ", 1)[1].startswith("5"))
        errors += sum(n for status, n in hooks.items() if status.startswith("5"))
        phones = contact_phones(self.stack.entities("contacts"))
        checks = {
            "every order synced with exactly one deal": len(leads) == len(orders)
            and all(
                s == "synced" and lead in leads and deals_per_number[n] == 1 for _, n, _, s, lead in orders
            ),
            "one contact per customer": sorted(phones.values()) == [1] * customers,
            "one creation note per deal": all(creation[lead] == 1 for *_, lead in orders),
            "every deal at its order's stage": all(
                lead in leads
                and (leads[lead]["pipeline_id"], leads[lead]["status_id"]) == self.stages[status]
                for _, _, status, _, lead in orders
            ),
            "every delivery applied or recorded with its reason": not inbox.get("pending")
            and not inbox.get("failed")
            and not unexplained,
            "no 5xx from the console": errors == 0,
        }
        return {"orders": len(orders), "customers": customers, "leads": len(leads), "inbox": inbox,
                "inbox_problems": [list(row) for row in problems],
                "duplicate_contacts": sorted(phone for phone, n in phones.items() if n > 1),
                "answers": answers, "sandbox_deliveries": dict(hooks), "server_errors": errors,
                "checks": checks, "passed": all(checks.values())}  # fmt: skip


def is_creation_note(text: str) -> bool:
    """A creation note opens with "Заказ <number>" alone on its line; a change note's line ends "изменён:"."""
    first = text.split("\n", 1)[0]
    return first.startswith("Заказ ") and not first.endswith(":")


def contact_phones(contacts: list[dict[str, Any]]) -> Counter[str]:
    """How many contacts carry each phone number (one per customer: all ones)."""
    return Counter(
        value["value"]
        for contact in contacts
        for field in contact.get("custom_fields_values") or []
        if field.get("field_code") == "PHONE"
        for value in field["values"]
    )


def run(mode: str, scale: Scale = FULL, sandbox: SandboxHandle | None = None) -> dict[str, Any]:
    """One soak in ``mode`` at ``scale`` (a sandbox of its own unless ``sandbox``); returns its figures."""
    proc = None
    if sandbox is None:
        proc, url = start_sandbox()
        sandbox = SandboxHandle(url)
    try:
        sandbox.reset()
        sandbox.configure(rate_limit=scale.rate_limit, webhook_retry_delays=[2, 5, 10, 30])
        # Short retry delays and a reconciliation each minute: the storm's failures are retried within the run
        # (deliveries left pending by a killed cluster's processing task are requeued within about a minute).
        # A lost create settles in 10 s: the sandbox carries a "slow" request out READ_TIMEOUT + 1 s late.
        env = {"AMOCRM_READ_TIMEOUT": str(READ_TIMEOUT), "AMOCRM_RETRY_DELAYS": "15,30,60",
               "AMOCRM_RECONCILE_MINUTES": "1", "AMOCRM_UNCONFIRMED_SETTLE_SECONDS": "10"}  # fmt: skip
        with Stack(
            sandbox, mode=mode, rate_limit=scale.rate_limit, products=10, webhooks=True, env=env
        ) as stack:
            return {"mode": mode, **Soak(stack, scale).run()}
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The soak's rows for the benchmark table."""
    rows = [{"figure": f"soak: {name}", "target": "yes", "measured": "yes" if met else "NO", "passed": met}
            for name, met in result["checks"].items()]  # fmt: skip
    rows.append({"figure": "soak: time to converge after the load", "target": "-",
                 "measured": f"{result['converge_s']:.0f} s", "passed": True})  # fmt: skip
    return [dict(row, mode=result["mode"]) for row in rows]


def report(result: dict[str, Any]) -> None:
    """Print one soak's figures and checks."""
    print(
        f"{result['mode']}: {result['orders']} orders, {result['customers']} customers, {result['leads']} "
        f"deals; load {result['load_s']:.0f} s, converged {result['converge_s']:.0f} s after the load"
    )
    episodes = {k: round(result[k], 2) for k in ("revoked_s", "killed_at_progress") if k in result}
    print(f"  episodes {episodes}\n  answers {result['answers']}\n  inbox {result['inbox']}")
    print(f"  sandbox deliveries by status {result['sandbox_deliveries']}")
    for problem in result.get("inbox_problems", []):
        print(f"  delivery not settled: {problem}")
    if result.get("duplicate_contacts"):
        print(f"  phones with more than one contact: {result['duplicate_contacts']}")
    for name, met in result["checks"].items():
        print(f"  {'PASS' if met else 'FAIL'}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="the reduced scale of the test suite")
    args = parser.parse_args(argv)
    results = [
        run(mode, REDUCED if args.quick else FULL)
        for mode in (MODES if args.mode == "both" else (args.mode,))
    ]
    for result in results:
        report(result)
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
