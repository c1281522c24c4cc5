"""Benchmark: simple GETs per second the sandbox answers on one core.

Run ``python -m tests.bench.bench_sandbox [--seconds 5] [--threads 4]``
(or ``python tests/bench/bench_sandbox.py``).
The server is pinned to CPU 0 with ``taskset`` when available; the client threads run unpinned. It prints the
client-side rate and the sandbox's own observed peak rate from ``GET /_sandbox/requests``. Target: ≥ 300/s.
:func:`measure` returns the figures (``tests/bench/figures.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]


def start(pin: bool) -> tuple[subprocess.Popen[str], str]:
    """Start the sandbox on a free port (rate limit off), pinned to one core when possible."""
    cmd = [sys.executable, "-m", "console.sandbox", "--port", "0", "--rate-limit", "0"]
    if pin and shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("AmoCRM sandbox listening on "):
        proc.kill()
        raise RuntimeError(f"sandbox did not start: {line!r}")
    return proc, line.split(" on ", 1)[1].strip()


def run(url: str, seconds: float, threads: int, limit: int) -> tuple[int, int, float]:
    """Fire ``GET /api/v4/account`` from ``threads`` clients; returns (ok, errors, elapsed)."""
    token = requests.post(url + "/_sandbox/long_lived_token", json={"lifetime": 3600}, timeout=5).json()[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    counts = {"ok": 0, "err": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        session = requests.Session()
        ok = err = 0
        while time.monotonic() < deadline and ok + err < limit:
            try:
                resp = session.get(url + "/api/v4/account", headers=headers, timeout=5)
                ok, err = (ok + 1, err) if resp.status_code == 200 else (ok, err + 1)
            except requests.RequestException:
                err += 1
        with lock:
            counts["ok"] += ok
            counts["err"] += err

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return counts["ok"], counts["err"], time.monotonic() - started


def measure(*, seconds: float = 5.0, threads: int = 4, max_requests: int = 20_000,
            pin: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """Start a sandbox, fire at it, print and return the figures."""
    from tests.bench.figures import figure

    proc, url = start(pin=pin)
    try:
        requests.post(url + "/_sandbox/requests/clear", timeout=5)
        ok, err, elapsed = run(url, seconds, threads, max_requests)
        report = requests.get(url + "/_sandbox/requests?limit=0", timeout=5).json()
    finally:
        proc.kill()
        proc.wait()
    rate = ok / elapsed
    print(f"sandbox GET /api/v4/account: {ok} ok, {err} errors in {elapsed:.1f} s -> {rate:.0f} requests/s")
    print(f"sandbox observed peak: {report['peak_rps']} requests in a 1-second window (target >= 300)")
    return [
        figure("sandbox: GET requests/s on one core", rate, ">= 300/s", rate >= 300, unit="/s"),
        figure(
            "sandbox: peak requests in a 1 s window", report["peak_rps"], ">= 300", report["peak_rps"] >= 300
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=20_000, help="per client thread")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server to one core")
    args = parser.parse_args(argv)
    measure(seconds=args.seconds, threads=args.threads, max_requests=args.max_requests, pin=not args.no_pin)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
