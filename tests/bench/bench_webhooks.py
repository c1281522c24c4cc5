"""Benchmark: the amoCRM webhook intake under the loads amoCRM really sends, in both deployment modes.

Run: ``.venv/bin/python -m tests.bench.bench_webhooks [--mode embedded|scale-out|both]
[--scenario paced|closed|both] [--scale 0.1]`` (``--help`` lists every flag).

Scenarios, each against its own freshly migrated and seeded stack:

- (a) paced: 100 deliveries/s for 20 s (2,000 deliveries), an open loop, as when a manager moves many deals
  to another stage at once. Targets: p99 answer time <= 100 ms, no non-2xx answer.
- (b) closed loop: 5,000 deliveries from 20 senders, each sending its next delivery as soon as its previous
  one is answered. Targets: >= 400 deliveries/s, p99 answer time <= 250 ms, no non-2xx answer.
- (c) for both: every delivery processed (its inbox row has an outcome other than ``pending``) <= 60 s after
  the last delivery was answered. The lag is the newest ``processed_at`` minus the last answer's time.

Modes: ``embedded`` (SQLite in a temporary ``DATA_DIR``, django-q2's ORM broker) and ``scale-out``
(PostgreSQL at ``--postgres``, a throwaway database dropped and created for each scenario, and the Redis
broker at ``--redis``, flushed for each scenario). Both run by default.

A stack is the console as we deploy it: ``gunicorn settings.wsgi --preload`` with sync workers (one per CPU)
on a free 127.0.0.1 port and one ``manage.py qcluster``, both running (the cluster has completed a probe
task) before the first delivery. The database holds a connected account with a webhook secret, a stage map
and ``--orders`` orders linked to leads; every delivery is a distinct, valid ``leads[status]`` body.

Answer times run from sending a delivery to reading the last byte of its answer; in the paced scenario from
the time the delivery was due, so a late sender does not hide a slow answer. Senders are processes with a
minimal HTTP client, one connection at a time each (see :func:`fire`).

It prints one line per figure with its target and PASS or FAIL, a detail line per scenario (percentiles, CPU
used while firing, cluster progress at the last answer, outcomes) and a table over every scenario run;
:func:`main` exits 1 when any target fails. :func:`run` returns one scenario's figures as a dict. Not
collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

import psycopg
import redis

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SECRET = "bench-webhook-secret-0123456789abcdefghijklmnopqrstuv"
ACCOUNT_ID = 31000001
SUBDOMAIN = "bench"
PIPELINE = 7000001
STAGES = {"new": 7100001, "reserved": 7100002, "in_rent": 7100003, "in_progress": 7100004}
FIRST_LEAD = 900000
MODES = ("embedded", "scale-out")
LAG_TARGET_S = 60.0

# Scripts run with ``manage.py shell -c`` in the stack's environment; :func:`django_shell` defines the
# upper-case names they use.
SEED = f"""
import datetime as dt
from django.utils import timezone
from console.amocrm.models import AmoConnection, OrderSync, StageMapping
from console.customers.models import Customer
from console.orders.models import Order

c = AmoConnection.get_solo()
c.account_id, c.subdomain, c.webhook_secret = {ACCOUNT_ID}, {SUBDOMAIN!r}, {SECRET!r}
c.save()
for status, stage in {STAGES!r}.items():
    StageMapping.objects.update_or_create(
        order_status=status, defaults={{"pipeline_id": {PIPELINE}, "status_id": stage}}
    )
customer = Customer.objects.create(first_name="Bench", display_name="Bench", phone="+79990000000")
day = dt.date.today() + dt.timedelta(days=10)
orders = Order.objects.bulk_create(
    [Order(customer=customer, installation_date=day, dismantle_date=day + dt.timedelta(days=2))
     for _ in range(ORDERS)]
)
long_ago = timezone.now() - dt.timedelta(days=1)
OrderSync.objects.bulk_create(
    [OrderSync(order=o, lead_id={FIRST_LEAD} + i, state="synced", pushed_pipeline_id={PIPELINE},
               pushed_status_id={STAGES["new"]}, last_synced_at=long_ago) for i, o in enumerate(orders)]
)
"""

PROBE = """
from django_q.tasks import async_task, result
if result(async_task("math.sqrt", 4.0), wait=int(TIMEOUT * 1000)) != 2.0:
    raise SystemExit("the cluster did not run a probe task")
"""

WATCH = """
import datetime as dt, json, time
from django.db.models import Count, Max
from console.amocrm.models import WebhookInbox

deadline = time.monotonic() + TIMEOUT
while True:
    counts = dict(WebhookInbox.objects.values_list("outcome").annotate(n=Count("id")).order_by())
    done = sum(counts.values()) >= STORED and not counts.get("pending")
    if done or time.monotonic() > deadline:
        break
    time.sleep(0.5)
newest = WebhookInbox.objects.aggregate(at=Max("processed_at"))["at"]
early = WebhookInbox.objects.filter(processed_at__lte=dt.datetime.fromtimestamp(LAST_ANSWER, dt.UTC))
held = WebhookInbox.objects.filter(outcome="pending").exclude(reasons=[])
held = sorted({json.dumps(r) for r in held.values_list("reasons", flat=True)[:200]})
print(json.dumps({"done": done, "outcomes": counts, "newest": newest.timestamp() if newest else None,
                  "processed_at_last_answer": early.count(),
                  "pending_reasons": held[:5]}))
"""


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One load shape and its targets; ``rate`` 0 is a closed loop."""

    letter: str
    deliveries: int
    rate: float
    p99_ms: float
    min_rate: float = 0.0

    @property
    def label(self) -> str:
        if self.rate:
            return f"({self.letter}) paced {self.rate:g}/s x {self.deliveries / self.rate:g} s"
        return f"({self.letter}) closed loop x {self.deliveries}"


SCENARIOS = {
    "paced": Scenario("a", deliveries=2000, rate=100.0, p99_ms=100.0),
    "closed": Scenario("b", deliveries=5000, rate=0.0, p99_ms=250.0, min_rate=400.0),
}


@dataclasses.dataclass(frozen=True)
class Options:
    """How to build the stack and shape the load; ``main`` fills it from the command line."""

    workers: int = os.cpu_count() or 2
    q_workers: int = 2
    concurrency: int = 20
    orders: int = 200
    scale: float = 1.0
    rate: float = 0.0
    paced_seconds: float = 0.0
    deliveries: int = 0
    process_timeout: float = 180.0
    postgres: str = "postgres://postgres@127.0.0.1:5432/bench_webhooks"
    redis: str = "redis://127.0.0.1:6379/9"

    def scenario(self, key: str) -> Scenario:
        """``SCENARIOS[key]`` shrunk by ``scale``, then with any explicit size or rate applied."""
        base = SCENARIOS[key]
        if not base.rate:
            deliveries = self.deliveries or round(base.deliveries * self.scale)
            return dataclasses.replace(base, deliveries=max(1, deliveries))
        rate = self.rate or base.rate
        seconds = self.paced_seconds or base.deliveries / base.rate * self.scale
        return dataclasses.replace(base, rate=rate, deliveries=max(1, round(rate * seconds)))


@dataclasses.dataclass
class Stack:
    """A running console: its environment, the webhook URL and its two processes."""

    env: dict[str, str]
    url: str
    gunicorn: subprocess.Popen
    cluster: subprocess.Popen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_env(mode: str, data_dir: str, options: Options) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "Q_BROKER", "Q_SYNC", "Q_POLL"):
        env.pop(name, None)
    if mode == "scale-out":
        env.update(DATABASE_URL=options.postgres, REDIS_URL=options.redis)
    env.update(
        DJANGO_SETTINGS_MODULE="settings.base",
        DATA_DIR=data_dir,
        Q_WORKERS=str(options.q_workers),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def django_shell(env: dict[str, str], code: str, **names: Any) -> str:
    """Run ``code`` with ``manage.py shell -c``, ``names`` defined first; returns its standard output."""
    prelude = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", prelude + code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py shell failed:\n{done.stderr[-3000:]}")
    return done.stdout


def reset_scale_out(options: Options) -> None:
    """Drop and create the throwaway PostgreSQL database, and flush the Redis database."""
    target = urlsplit(options.postgres)
    name = target.path.lstrip("/")
    with psycopg.connect(target._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(options.redis).flushdb()


def body(index: int, orders: int, base_time: int) -> str:
    """A valid ``leads[status]`` delivery: lead ``index % orders`` moved at a time that only grows for
    the lead (a second per move of that lead, so the whole run stays within the few minutes ahead of our
    clock the console trusts without asking amoCRM: ``inbound.rules.FUTURE_TOLERANCE``)."""
    lead_id = FIRST_LEAD + index % orders
    stage = list(STAGES.values())[1 + (index // orders) % 3]
    fields = {
        "id": lead_id,
        "name": f"Заказ №{index}",
        "status_id": stage,
        "old_status_id": STAGES["new"],
        "price": 22500,
        "responsible_user_id": 2079676,
        "last_modified": base_time + index // orders,
        "modified_user_id": 2079718,
        "pipeline_id": PIPELINE,
        "account_id": ACCOUNT_ID,
    }
    pairs = [(f"leads[status][0][{k}]", str(v)) for k, v in fields.items()]
    pairs += [("account[subdomain]", SUBDOMAIN), ("account[id]", str(ACCOUNT_ID))]
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, bool]:
    """Send one HTTP/1.1 request and read its whole answer; returns the status and whether the server keeps
    the connection open. A minimal client: ``http.client`` parses headers with the e-mail parser, which cost
    the senders about as much CPU as the console spent answering, on the same two CPUs."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer's headers")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = {
        name.strip().lower(): value.strip() for name, _, value in (li.partition(b":") for li in lines[1:])
    }
    length = int(fields.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of the answer")
        rest += chunk
    keep = lines[0].startswith(b"HTTP/1.1") and fields.get(b"connection", b"").lower() != b"close"
    return int(lines[0].split()[1]), keep


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers a GET (any status)."""
    target = urlsplit(url)
    request = f"GET {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nConnection: close\r\n\r\n".encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((target.hostname, target.port), timeout=5) as sock:
                _exchange(sock, request)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer at {url}")


def _send(
    url: str, work: list[tuple[int, bytes]], rate: float, begin: float
) -> list[tuple[float, int, float]]:
    """One sender (its own process, one connection at a time, reopened when the server closes it): post
    ``work`` in order. Returns per delivery its answer time in seconds (from sending, or in an open loop from
    the time it was due, connecting included), its status (0 = connection error) and when the answer ended
    (``time.time()``)."""
    target = urlsplit(url)
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nUser-Agent: amoCRM-Webhooks/3.0\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n"
    )
    sock: socket.socket | None = None
    results = []
    time.sleep(max(0.0, begin - time.time()))
    for index, payload in work:
        request = head.format(len(payload)).encode() + payload
        if rate > 0:
            due = begin + index / rate
            time.sleep(max(0.0, due - time.time()))
        else:
            due = time.time()
        try:
            if sock is None:
                sock = socket.create_connection((target.hostname, target.port), timeout=10)
            status, keep = _exchange(sock, request)
        except OSError:
            status, keep = 0, False
        ended = time.time()
        results.append((ended - due, status, ended))
        if not keep and sock is not None:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return results


@dataclasses.dataclass
class Firing:
    """What the senders saw."""

    times: list[float]  # answer times in seconds
    failures: list[int]  # the non-2xx statuses (0 = connection error)
    begin: float  # when the first delivery was due (time.time())
    last_answer: float  # when the last answer ended (time.time())

    @property
    def wall(self) -> float:
        return self.last_answer - self.begin


def fire(url: str, bodies: list[str], concurrency: int, rate: float = 0.0) -> Firing:
    """Post every body from ``concurrency`` sender processes, delivery ``i`` from sender ``i % concurrency``;
    with ``rate`` > 0 delivery ``i`` is due ``i / rate`` seconds after the start (open loop), otherwise it
    goes as soon as its sender's previous answer came (closed loop).

    Senders are processes, not threads of this one: threads sharing one interpreter lock measure their own
    wait for it, and a sync gunicorn worker waits for the client to close each connection, so a slow client
    also slows the server. amoCRM's deliveries come from independent senders.
    """
    work = [[(i, bodies[i].encode()) for i in range(k, len(bodies), concurrency)] for k in range(concurrency)]
    begin = time.time() + 1.0  # every sender has forked by then
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(concurrency, len(bodies)), mp_context=context) as pool:
        answers = pool.map(_send, repeat(url), [w for w in work if w], repeat(rate), repeat(begin))
        results = [answer for sender in answers for answer in sender]
    return Firing(
        times=[took for took, _, _ in results],
        failures=[status for _, status, _ in results if not 200 <= status < 300],
        begin=begin,
        last_answer=max(ended for _, _, ended in results),
    )


def own_cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the senders)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and its living descendants (Linux)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], ticks[pid] = int(fields[1]), int(fields[11]) + int(fields[12])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def stack(mode: str, options: Options) -> Iterator[Stack]:
    """A freshly migrated and seeded console in ``mode``: gunicorn as deployed and one qcluster, both
    answering before this yields; stopped and its data folder removed afterwards (with the processes' logs
    printed to stderr when anything failed)."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = run_env(mode, str(data_dir), options)
    running: list[subprocess.Popen] = []
    try:
        if mode == "scale-out":
            reset_scale_out(options)
        subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
        django_shell(env, SEED, ORDERS=options.orders)
        port = free_port()
        gunicorn = [
            *(
                str(Path(PYTHON).with_name("gunicorn")),
                "settings.wsgi",
                "--preload",
                "--worker-class",
                "sync",
            ),
            *("--workers", str(options.workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"),
        ]
        running.append(start(gunicorn, env, data_dir / "gunicorn.log"))
        running.append(start([PYTHON, "manage.py", "qcluster"], env, data_dir / "qcluster.log"))
        wait_http(f"http://127.0.0.1:{port}/login/")
        django_shell(env, PROBE, TIMEOUT=60.0)
        yield Stack(env, f"http://127.0.0.1:{port}/amocrm/webhook/{SECRET}/", *running)
    except BaseException:
        for log in sorted(data_dir.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        for proc in reversed(running):
            stop(proc)
        shutil.rmtree(data_dir, ignore_errors=True)


def run(mode: str, scenario: str, options: Options | None = None) -> dict[str, Any]:
    """Run ``scenario`` (``paced`` or ``closed``) in ``mode`` (``embedded`` or ``scale-out``) on a fresh
    stack. Returns its figures (times in ms, the processing lag in s, ``None`` when not every delivery was
    processed within ``process_timeout``), its targets, ``checks`` (target name: met) and ``passed``."""
    options = options or Options()
    shape = options.scenario(scenario)
    with stack(mode, options) as live:
        base_time = int(time.time()) + 60
        bodies = [body(i, options.orders, base_time) for i in range(shape.deliveries)]
        meters = {
            "gunicorn": lambda: tree_cpu(live.gunicorn.pid),
            "qcluster": lambda: tree_cpu(live.cluster.pid),
            "senders": own_cpu,
        }
        before = {name: meter() for name, meter in meters.items()}
        firing = fire(live.url, bodies, options.concurrency, shape.rate)
        cpu = {name: round(meter() - before[name], 2) for name, meter in meters.items()}
        stored = len(firing.times) - len(firing.failures)
        watch = json.loads(
            django_shell(
                live.env,
                WATCH,
                STORED=stored,
                TIMEOUT=options.process_timeout,
                LAST_ANSWER=firing.last_answer,
            ).splitlines()[-1]
        )
    ms = [t * 1000 for t in firing.times]
    lag = max(0.0, watch["newest"] - firing.last_answer) if watch["done"] and watch["newest"] else None
    figures = {
        "mode": mode,
        "scenario": scenario,
        "label": shape.label,
        "deliveries": shape.deliveries,
        "concurrency": options.concurrency,
        "workers": options.workers,
        "q_workers": options.q_workers,
        "cpus": os.cpu_count(),
        "p50_ms": percentile(ms, 0.50),
        "p90_ms": percentile(ms, 0.90),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms),
        "rate_per_s": len(ms) / firing.wall,
        "wall_s": firing.wall,
        "non_2xx": len(firing.failures),
        "non_2xx_statuses": sorted(set(firing.failures)),
        "lag_s": lag,
        "outcomes": watch["outcomes"],
        "processed_at_last_answer": watch["processed_at_last_answer"],
        "pending_reasons": watch.get("pending_reasons", []),
        "cpu_s": cpu,
        "targets": {"p99_ms": shape.p99_ms, "non_2xx": 0, "lag_s": LAG_TARGET_S},
    }
    checks = {
        "p99_ms": figures["p99_ms"] <= shape.p99_ms,
        "non_2xx": not firing.failures,
        "lag_s": lag is not None and lag <= LAG_TARGET_S,
    }
    if shape.min_rate:
        figures["targets"]["rate_per_s"] = shape.min_rate
        checks["rate_per_s"] = figures["rate_per_s"] >= shape.min_rate
    return {**figures, "checks": checks, "passed": all(checks.values())}


def verdict(*passed: bool) -> str:
    return "PASS" if all(passed) else "FAIL"


def report(result: dict[str, Any]) -> None:
    """Print one line per figure with its target, then a detail line."""
    mode, label, checks, targets = (
        f"{result['mode']:<9}",
        result["label"],
        result["checks"],
        result["targets"],
    )
    letter = label[:3]
    print(
        f"{mode} {label}  p99 {result['p99_ms']:.1f} ms  (target <= {targets['p99_ms']:g} ms)  "
        f"non-2xx {result['non_2xx']}  {verdict(checks['p99_ms'], checks['non_2xx'])}"
    )
    if "rate_per_s" in checks:
        print(
            f"{mode} {letter} throughput {result['rate_per_s']:.0f}/s  "
            f"(target >= {targets['rate_per_s']:g}/s)  {verdict(checks['rate_per_s'])}"
        )
    lag = "not all processed" if result["lag_s"] is None else f"all processed {result['lag_s']:.1f} s"
    print(
        f"{mode} (c) after {letter}  {lag} after the last answer  (target <= {targets['lag_s']:g} s)  "
        f"{verdict(checks['lag_s'])}"
    )
    cpu = ", ".join(f"{name} {used:.1f} s" for name, used in result["cpu_s"].items())
    print(
        f"    p50 {result['p50_ms']:.1f} / p90 {result['p90_ms']:.1f} / max {result['max_ms']:.1f} ms; "
        f"{result['deliveries']} deliveries in {result['wall_s']:.1f} s ({result['rate_per_s']:.0f}/s); "
        f"non-2xx statuses {result['non_2xx_statuses']}; CPU while firing: {cpu}; "
        f"processed at the last answer: {result['processed_at_last_answer']}; outcomes {result['outcomes']}"
    )
    if result["pending_reasons"]:
        print(f"    left pending because: {result['pending_reasons']}")


def table(results: list[dict[str, Any]]) -> None:
    print(f"\n{'mode':<9}  {'scenario':<26} {'p99 ms':>7} {'rate/s':>7} {'non-2xx':>7} {'lag s':>6}  result")
    for r in results:
        lag = "-" if r["lag_s"] is None else f"{r['lag_s']:.1f}"
        print(
            f"{r['mode']:<9}  {r['label']:<26} {r['p99_ms']:>7.1f} {r['rate_per_s']:>7.0f} {r['non_2xx']:>7} "
            f"{lag:>6}  {verdict(r['passed'])}"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the chosen modes and scenarios, print the figures; returns 1 when any target failed."""
    defaults = Options()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both")
    parser.add_argument("--scenario", choices=(*SCENARIOS, "both"), default="both")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink both scenarios (0.1: a smoke run)")
    parser.add_argument("--rate", type=float, default=0.0, help="(a) deliveries per second (default 100)")
    parser.add_argument("--paced-seconds", type=float, default=0.0, help="(a) duration (default 20 x scale)")
    parser.add_argument("--deliveries", type=int, default=0, help="(b) deliveries (default 5000 x scale)")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="sender processes")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="gunicorn sync workers")
    parser.add_argument("--q-workers", type=int, default=defaults.q_workers, help="qcluster workers")
    parser.add_argument("--orders", type=int, default=defaults.orders, help="seeded orders (leads)")
    parser.add_argument(
        "--process-timeout", type=float, default=defaults.process_timeout, help="(c) give up after (s)"
    )
    parser.add_argument("--postgres", default=defaults.postgres, help="scale-out: throwaway database URL")
    parser.add_argument("--redis", default=defaults.redis, help="scale-out: broker URL (flushed)")
    args = parser.parse_args(argv)
    options = Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)})
    modes = MODES if args.mode == "both" else (args.mode,)
    scenarios = tuple(SCENARIOS) if args.scenario == "both" else (args.scenario,)
    results = []
    for mode in modes:
        store = "PostgreSQL + Redis broker" if mode == "scale-out" else "SQLite + ORM broker"
        print(
            f"{mode}: gunicorn --preload, {options.workers} sync workers; qcluster {options.q_workers} "
            f"workers; {store}; {options.concurrency} senders; {os.cpu_count()} CPUs"
        )
        for key in scenarios:
            results.append(run(mode, key, options))
            report(results[-1])
    table(results)
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
