"""The benchmarks ``python -m tests.bench`` runs, how each is called, and the one table of their figures.

Each benchmark's ``run``-like function returns its figures (``tests/bench/figures.py``); :func:`run_one`
calls it in a fresh interpreter (a spawned process), since most configure Django for a throwaway database
once per process. A benchmark with both deployment modes runs once per mode and :func:`table` puts its
figures side by side. ``bench_console_pages`` (another engineer's, when present) has no such function: its
printed lines are read.
"""

from __future__ import annotations

import dataclasses
import importlib
import multiprocessing
import os
import re
import subprocess
import sys
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MODES = ("embedded", "scale-out")
PAGE_LINE = re.compile(r"^(recounted )?GET (\S+)\s+p50\s+([\d.]+) ms\s+p95\s+([\d.]+) ms")
PAGE_TARGET_MS = 150.0
DEEP_PAGE = re.compile(r"page=\d+")  # page 900 of 100,000 orders, 9009 of 1,000,000: one line of the table


@dataclasses.dataclass(frozen=True)
class Bench:
    """A benchmark: ``module.function(**options)`` (``mode=`` added per mode when ``modes`` has two)."""

    module: str
    function: str
    full: dict[str, Any]
    quick: dict[str, Any]
    modes: tuple[str, ...] = ("embedded",)


BENCHES = {
    "webhooks": Bench("tests.bench.suite", "webhook_figures", {"scale": 1.0}, {"scale": 0.1}, MODES),
    "sync-bulk": Bench("tests.bench.bench_sync_bulk", "run", {}, {"orders": 200, "customers": 40}),
    "sync-single": Bench("tests.bench.bench_sync_single", "run", {}, {}),
    "sync-latency": Bench("tests.bench.bench_sync_latency", "run", {}, {"orders": 10, "gap": 0.5}, MODES),
    "sandbox": Bench("tests.bench.bench_sandbox", "measure", {}, {"seconds": 2.0}),
    "client-ratelimit": Bench("tests.bench.suite", "ratelimit_figures", {}, {"calls": 60}, MODES),
    "orders-api": Bench("tests.bench.bench_orders_api", "measure", {}, {"requests": 100}),
    "console-pages": Bench("tests.bench.suite", "page_figures", {}, {"orders": 5000, "requests": 10}, MODES),
    "soak": Bench("tests.bench.suite", "soak_figures", {"quick": False}, {"quick": True}, MODES),
}


def webhook_figures(*, mode: str, scale: float) -> list[dict[str, Any]]:
    """``bench_webhooks.run`` for both scenarios, as figures."""
    from tests.bench import bench_webhooks
    from tests.bench.figures import figure

    rows = []
    for scenario in bench_webhooks.SCENARIOS:
        result = bench_webhooks.run(mode, scenario, bench_webhooks.Options(scale=scale))
        bench_webhooks.report(result)
        label, checks, targets, lag = result["label"], result["checks"], result["targets"], result["lag_s"]
        shown = {
            "p99_ms": (f"{label}: p99 answer", result["p99_ms"], f"<= {targets['p99_ms']:g} ms", " ms"),
            "non_2xx": (f"{label}: non-2xx answers", result["non_2xx"], "0", ""),
            "lag_s": (
                f"{label}: processed after",
                "never" if lag is None else lag,
                f"<= {targets['lag_s']:g} s",
                " s",
            ),
            "rate_per_s": (
                f"{label}: throughput",
                result["rate_per_s"],
                f">= {targets.get('rate_per_s', 0):g}/s",
                "/s",
            ),
        }
        for key, met in checks.items():
            name, measured, target, unit = shown[key]
            rows.append(figure(f"webhooks {name}", measured, target, met, mode=mode, unit=unit))
    return rows


def ratelimit_figures(*, mode: str, calls: int = 300) -> list[dict[str, Any]]:
    """``bench_client_ratelimit.run``: the database limiter embedded, the Redis one scale-out."""
    from tests.bench import bench_client_ratelimit
    from tests.fixtures.stack import redis_url

    return bench_client_ratelimit.run(calls=calls, redis=redis_url() if mode == "scale-out" else "")


def page_figures(*, mode: str, orders: int = 0, requests: int = 50) -> list[dict[str, Any]]:
    """``bench_console_pages``: its ``GET ... p95`` lines; embedded on 100,000 orders in SQLite, scale-out on
    1,000,000 in PostgreSQL (a database made for the run, ``BENCH_DATABASE_URL``, then dropped)."""
    from tests.bench.figures import figure

    if not (REPO / "tests" / "bench" / "bench_console_pages.py").exists():
        return []
    command = [sys.executable, "-m", "tests.bench.bench_console_pages"]
    if mode == "scale-out":
        database = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console_bench")
        command += ["--database", database]
    command += ["--orders", str(orders or (1_000_000 if mode == "scale-out" else 100_000))]
    done = subprocess.run([*command, "--requests", str(requests)], cwd=REPO, capture_output=True, text=True)
    print(done.stdout, done.stderr[-3000:] if done.returncode else "", sep="")
    if done.returncode:
        raise RuntimeError(f"bench_console_pages exited {done.returncode}")
    target = f"< {PAGE_TARGET_MS:g} ms"
    return [
        figure(f"page {m[1] or ''}GET {DEEP_PAGE.sub('page=<deep>', m[2])}: p95", float(m[4]), target,
               float(m[4]) < PAGE_TARGET_MS, mode=mode, unit=" ms")
        for m in map(PAGE_LINE.match, done.stdout.splitlines()) if m
    ]  # fmt: skip


def soak_figures(*, mode: str, quick: bool) -> list[dict[str, Any]]:
    from tests.bench import soak

    result = soak.run(mode, soak.REDUCED if quick else soak.FULL)
    soak.report(result)
    return soak.figures(result)


def call(module: str, function: str, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one benchmark (in the spawned process): import and call it."""
    return getattr(importlib.import_module(module), function)(**options)


def run_one(name: str, bench: Bench, options: dict[str, Any]) -> list[dict[str, Any]]:
    """``bench`` in a fresh interpreter; a failure becomes a failed figure (the others still run)."""
    print(f"\n=== {name} {options}", flush=True)
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            return pool.submit(call, bench.module, bench.function, options).result()
    except Exception as exc:  # noqa: BLE001 -- reported in the table, the other benchmarks go on
        traceback.print_exc()
        mode = options.get("mode", "embedded")
        return [{"figure": f"{name}: ran", "target": "yes", "measured": type(exc).__name__, "passed": False,
                 "mode": mode}]  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    """One line per figure: its target, the embedded and scale-out measures side by side, and the verdict."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        line = merged.setdefault(row["figure"], {"target": row["target"], "passed": []})
        line[row["mode"]] = row["measured"]
        line["passed"].append(row["passed"])
    width = max([len(name) for name in merged] + [6])
    out = [f"{'figure':<{width}}  {'target':>10}  {'embedded':>12}  {'scale-out':>12}  result"]
    for name, line in merged.items():
        verdicts = [p for p in line["passed"] if p is not None]
        verdict = "-" if not verdicts else ("PASS" if all(verdicts) else "FAIL")
        out.append(f"{name:<{width}}  {line['target']:>10}  {line.get('embedded', '-'):>12}  "
                   f"{line.get('scale-out', '-'):>12}  {verdict}")  # fmt: skip
    return "\n".join(out)
