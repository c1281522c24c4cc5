"""The shared rate limiter: parallel processes never push the sandbox's observed peak above the limit."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
import requests

from console.amocrm.api.ratelimit import SAFETY_MARGIN, FileRateLimiter, RedisRateLimiter, get_rate_limiter

LIMIT = 7
WORKERS = 4
CALLS_EACH = 8


def _worker(make_limiter, url: str, token: str, barrier, results) -> None:
    limiter = make_limiter()
    session = requests.Session()
    barrier.wait()
    statuses = []
    for _ in range(CALLS_EACH):
        limiter.acquire()
        answer = session.get(
            f"{url}/api/v4/account", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        statuses.append(answer.status_code)
    results.put(statuses)


def _run(sandbox, make_limiter) -> tuple[list[int], float]:
    sandbox.configure(rate_limit=LIMIT)
    token = sandbox.token()
    sandbox.control("POST", "/_sandbox/requests/clear")
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(make_limiter, sandbox.url, token, barrier, results))
        for _ in range(WORKERS)
    ]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    statuses = [status for _ in procs for status in results.get(timeout=60)]
    for proc in procs:
        proc.join(timeout=10)
    return statuses, time.monotonic() - started


def _make_file_limiter(path):
    return lambda: FileRateLimiter(path, LIMIT, 1.0 + SAFETY_MARGIN)


def test_processes_sharing_the_file_limiter_stay_under_the_limit(sandbox, tmp_path):
    statuses, elapsed = _run(sandbox, _make_file_limiter(tmp_path / "limit.json"))
    report = sandbox.requests()
    assert statuses == [200] * WORKERS * CALLS_EACH, "the sandbox answered 429"
    assert report["peak_rps"] <= LIMIT
    # 32 calls at 7 per 1.05 s: the first 7 go at once, the rest need about 3.6 s more
    assert elapsed < 8


def _redis_url() -> str:
    return "redis://127.0.0.1:6379/15"


def _make_redis_limiter(key):
    return lambda: RedisRateLimiter(_redis_url(), key, LIMIT, 1.0 + SAFETY_MARGIN)


def test_processes_sharing_the_redis_limiter_stay_under_the_limit(sandbox):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(_redis_url()).ping()
    except redis.RedisError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    statuses, _elapsed = _run(sandbox, _make_redis_limiter(f"test:ratelimit:{uuid.uuid4().hex}"))
    assert statuses == [200] * WORKERS * CALLS_EACH
    assert sandbox.requests()["peak_rps"] <= LIMIT


def test_the_limiter_lets_a_burst_of_the_limit_through_at_once(tmp_path):
    limiter = FileRateLimiter(tmp_path / "burst.json", 5, 1.0)
    started = time.monotonic()
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == [0.0] * 5 and time.monotonic() - started < 0.5
    limiter.acquire()
    assert time.monotonic() - started >= 0.95


def test_the_installation_limiter_follows_the_settings(settings, tmp_path):
    settings.REDIS_URL = ""
    settings.DATA_DIR = tmp_path
    settings.AMOCRM_RATE_LIMIT = 3
    limiter = get_rate_limiter()
    assert isinstance(limiter, FileRateLimiter) and limiter.rate == 3
    assert limiter.path.parent == tmp_path
