"""Benchmark: 5,000 amoCRM webhook deliveries at concurrency 20 against the console under gunicorn.

Run: ``.venv/bin/python -m tests.bench.bench_webhooks [--deliveries N] [--concurrency N] [--server-times]``

What it does: a temporary ``DATA_DIR`` with the embedded SQLite database (migrated), a connection row with a
webhook secret, a stage map and ``--orders`` orders linked to leads; gunicorn on a free 127.0.0.1 port; a
``qcluster`` process (ORM broker) started when the firing starts; then ``--deliveries`` distinct, valid
``leads[status]`` bodies posted by ``--concurrency`` sender processes (one connection at a time each, bodies
built beforehand, each answer timed from connecting and sending to the last byte read).

It prints the answer time percentiles (target p99 <= 50 ms), with ``--server-times`` also gunicorn's own
(from reading the request to the response, i.e. without the wait for a free worker), the CPU time gunicorn,
the senders and the cluster used while firing, the number of non-2xx answers (target 0), how many
deliveries the cluster had processed when the last answer came, and the time from the first delivery until
every inbox row has an outcome, with the outcomes. Not collected by pytest. ``--postgres`` and ``--redis``
run the scale-out mode instead.

Defaults are the embedded mode as we deploy it: gunicorn ``sync`` workers, one per CPU, and the cluster's
default two workers. At concurrency 20 the answer time is mostly the wait for a free worker (about 20 / rate),
so what counts is the delivery rate and its stalls. Measured on 2 CPUs (closed loop, cluster running):

- 2 sync workers 920-1,060/s (p99 33-44 ms); 3 about the same (~1,040/s, p99 31 ms); 4 ~860/s (p99 46 ms):
  on SQLite every delivery's write queues on one lock (``sqlite_writer_turn``) and more processes than CPUs
  mostly add switches while it is held. ``gthread`` 2x8 ~635/s (p99 55 ms).
- The slow answers were stalls of every worker at once, each traced to one cause, now removed: full garbage
  collections (30-170 ms) while holding the lock, WAL checkpoints in a committing request, the first request
  of a worker importing the views (see ``console/web/runtime.py``), eight inbox indexes (now four), and the
  cluster processing while a burst comes in (``deliveries_quiet_wait``: processing lags a burst instead).
  Before all that: ~420-560/s, p99 100-160 ms.
- The senders are processes with a minimal HTTP client. Threads of one process measured their own waits
  for the interpreter lock, and ``http.client`` used as much CPU as the console's answers; since a sync
  worker waits for the client to close each connection, a slow client also slowed the server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

import requests

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SECRET = "bench-webhook-secret-0123456789abcdefghijklmnopqrstuv"
ACCOUNT_ID = 31000001
SUBDOMAIN = "bench"
PIPELINE = 7000001
STAGES = {"new": 7100001, "reserved": 7100002, "in_rent": 7100003, "in_progress": 7100004}
FIRST_LEAD = 900000

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
print("seeded", len(orders))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_env(data_dir: str, workers: int, postgres: str = "", redis: str = "") -> dict[str, str]:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "Q_BROKER", "Q_SYNC"):
        env.pop(name, None)
    if postgres:
        env["DATABASE_URL"] = postgres
    if redis:
        env["REDIS_URL"] = redis
    env.update(
        DJANGO_SETTINGS_MODULE="settings.base",
        DATA_DIR=data_dir,
        Q_WORKERS=str(workers),
        Q_POLL="0.05",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def body(index: int, orders: int, base_time: int) -> str:
    """A valid ``leads[status]`` delivery: lead ``index % orders`` moved at a time that only grows."""
    lead_id = FIRST_LEAD + index % orders
    stage = list(STAGES.values())[1 + (index // orders) % 3]
    fields = {
        "id": lead_id,
        "name": f"Заказ №{index}",
        "status_id": stage,
        "old_status_id": STAGES["new"],
        "price": 22500,
        "responsible_user_id": 2079676,
        "last_modified": base_time + index,
        "modified_user_id": 2079718,
        "pipeline_id": PIPELINE,
        "account_id": ACCOUNT_ID,
    }
    pairs = [(f"leads[status][0][{k}]", str(v)) for k, v in fields.items()]
    pairs += [("account[subdomain]", SUBDOMAIN), ("account[id]", str(ACCOUNT_ID))]
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer at {url}")


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


def _send(url: str, work: list[tuple[int, bytes]], rate: float, begin: float) -> list[tuple[float, int]]:
    """One sender (its own process, one connection at a time, reopened when the server closes it): post
    ``work`` in order; returns each answer's time in seconds (connecting included) and status (0 = error)."""
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
            time.sleep(max(0.0, begin + index / rate - time.time()))
        started = time.perf_counter()
        try:
            if sock is None:
                sock = socket.create_connection((target.hostname, target.port), timeout=10)
            status, keep = _exchange(sock, request)
        except OSError:
            status, keep = 0, False
        results.append((time.perf_counter() - started, status))
        if not keep and sock is not None:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return results


def fire(
    url: str, bodies: list[str], concurrency: int, rate: float = 0.0
) -> tuple[list[float], list[int], float]:
    """Post every body from ``concurrency`` sender processes, delivery ``i`` from sender ``i % concurrency``;
    with ``rate`` > 0 delivery ``i`` starts ``i / rate`` seconds after the start (open loop) instead of as
    soon as its sender's previous answer came (closed loop).

    Senders are processes, not threads of this one: 20 threads sharing one interpreter lock measured their
    own wait for it, and a sync gunicorn worker waits for the client to close each connection, so a slow
    client also slowed the server. amoCRM's deliveries come from independent senders.

    Returns the answer times in seconds, the non-2xx statuses (0 = connection error) and the wall time.
    """
    work = [[(i, bodies[i].encode()) for i in range(k, len(bodies), concurrency)] for k in range(concurrency)]
    begin = time.time() + 1.0  # every sender has forked and connected by then
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=concurrency, mp_context=context) as pool:
        answers = list(pool.map(_send, repeat(url), work, repeat(rate), repeat(begin)))
    wall = time.time() - begin
    results = [answer for sender in answers for answer in sender]
    return [took for took, _ in results], [status for _, status in results if not 200 <= status < 300], wall


def inbox_counts(env: dict[str, str]) -> dict[str, int]:
    code = (
        "from django.db.models import Count;from console.amocrm.models import WebhookInbox;"
        "print(dict(WebhookInbox.objects.values_list('outcome').annotate(n=Count('id')).order_by()))"
    )
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 (our own dict literal)


def own_cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the bench client's senders)."""
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


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def recreate_database(url: str) -> None:
    """Drop and create the (throwaway) PostgreSQL database named in ``url``."""
    from urllib.parse import urlsplit

    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (sync, gthread)")
    parser.add_argument("--cluster-nice", type=int, default=0, help="niceness added to the qcluster")
    parser.add_argument("--q-workers", type=int, default=2, help="qcluster workers (Q_WORKERS)")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--process-timeout", type=float, default=600.0)
    parser.add_argument("--rate", type=float, default=0.0, help="deliveries per second (0: closed loop)")
    parser.add_argument(
        "--cluster-after", action="store_true", help="start the qcluster once every delivery is answered"
    )
    parser.add_argument(
        "--postgres",
        default="",
        help="scale-out mode: a throwaway PostgreSQL database URL (dropped and created anew), e.g. "
        "postgres://postgres@127.0.0.1:5432/bench_webhooks",
    )
    parser.add_argument(
        "--redis", default="", help="scale-out mode: the Redis broker URL (redis://127.0.0.1:6379/9)"
    )
    parser.add_argument(
        "--server-times", action="store_true", help="also print gunicorn's own request times (access log)"
    )
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="bench-webhooks-")
    access_log = str(Path(data_dir) / "access.log")
    if args.postgres:
        recreate_database(args.postgres)
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
    env = run_env(data_dir, args.q_workers, args.postgres, args.redis)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
    seed = SEED.replace("ORDERS", str(args.orders))
    subprocess.run([PYTHON, "manage.py", "shell", "-c", seed], cwd=REPO, env=env, check=True)

    port = free_port()
    gunicorn = subprocess.Popen(
        [
            str(Path(PYTHON).with_name("gunicorn")),
            "settings.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            args.worker_class,
            "--log-level",
            "warning",
            *(["--access-logfile", access_log, "--access-logformat", "%(D)s"] if args.server_times else []),
        ],
        cwd=REPO,
        env=env,
    )
    cluster = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/login/")
        url = f"{base}/amocrm/webhook/{SECRET}/"
        base_time = int(time.time()) + 60
        bodies = [body(i, args.orders, base_time) for i in range(args.deliveries)]
        qcluster = [PYTHON, "manage.py", "qcluster"]
        nice = (lambda: os.nice(args.cluster_nice)) if args.cluster_nice else None
        if not args.cluster_after:
            cluster = subprocess.Popen(
                qcluster, cwd=REPO, env=env, stdout=subprocess.DEVNULL, preexec_fn=nice
            )
        meters = {"gunicorn": lambda: tree_cpu(gunicorn.pid), "bench client": own_cpu}
        if cluster is not None:
            meters["qcluster"] = lambda: tree_cpu(cluster.pid)
        cpu_before = {name: meter() for name, meter in meters.items()}
        fired_at = time.perf_counter()
        latencies, failures, wall = fire(url, bodies, args.concurrency, args.rate)
        cpu_used = {name: meter() - cpu_before[name] for name, meter in meters.items()}
        at_last_answer = inbox_counts(env)
        if args.cluster_after:
            cluster = subprocess.Popen(
                qcluster, cwd=REPO, env=env, stdout=subprocess.DEVNULL, preexec_fn=nice
            )
        counts: dict[str, int] = {}
        while time.perf_counter() - fired_at < args.process_timeout:
            counts = inbox_counts(env)
            if sum(counts.values()) >= args.deliveries and not counts.get("pending"):
                break
            time.sleep(1.0)
        processed_in = time.perf_counter() - fired_at
        ms = [t * 1000 for t in latencies]
        pace = f"paced at {args.rate:.0f}/s" if args.rate else "closed loop"
        print(
            f"deliveries: {len(ms)} at concurrency {args.concurrency} ({pace}) in {wall:.1f} s "
            f"({len(ms) / wall:.0f}/s); gunicorn {args.workers}x{args.threads} {args.worker_class}, "
            f"qcluster {args.q_workers} workers (nice +{args.cluster_nice}), {os.cpu_count()} CPUs, "
            f"{'PostgreSQL' if args.postgres else 'SQLite'} + {'Redis' if args.redis else 'ORM'} broker"
        )
        print(
            f"answer time: p50 {percentile(ms, 0.50):.1f} ms, p90 {percentile(ms, 0.90):.1f} ms, "
            f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms "
            f"(target p99 <= 50 ms)"
        )
        if args.server_times:
            server = [int(line) / 1000 for line in Path(access_log).read_text().split()]
            print(
                f"server-side (gunicorn, accept to response): p50 {percentile(server, 0.50):.1f} ms, "
                f"p99 {percentile(server, 0.99):.1f} ms, max {max(server):.1f} ms"
            )
        print(
            f"CPU while firing ({wall:.1f} s x {os.cpu_count()} CPUs): "
            + ", ".join(f"{name} {used:.1f} s ({used / wall:.0%})" for name, used in cpu_used.items())
        )
        print(f"non-2xx answers: {len(failures)} {sorted(set(failures))} (target 0)")
        processed = sum(n for outcome, n in at_last_answer.items() if outcome != "pending")
        stored = sum(at_last_answer.values())
        print(f"processed by the cluster when the last answer came: {processed} of {stored}")
        done = "fully processed" if counts and not counts.get("pending") else "NOT fully processed"
        print(f"inbox {done} {processed_in:.1f} s after the first delivery: {counts}")
    finally:
        if cluster is not None:
            stop(cluster)
        stop(gunicorn)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
