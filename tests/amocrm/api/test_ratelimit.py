"""The shared rate limiter: parallel processes never push the sandbox's observed peak above the limit."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
import requests
from django.db import connections

from console.amocrm.account.ratelimit import DatabaseRateLimiter, get_rate_limiter
from console.amocrm.api.ratelimit import SAFETY_MARGIN, RedisRateLimiter
from console.amocrm.models import RateLimitWindow

LIMIT = 7
WORKERS = 4
CALLS_EACH = 8


def _worker(make_limiter, url: str, token: str, barrier, results) -> None:
    limiter = make_limiter()
    session = requests.Session()
    barrier.wait()
    statuses = []
    for _ in range(CALLS_EACH):
        with limiter.turn():
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


def _make_database_limiter(name):
    return lambda: DatabaseRateLimiter(name, LIMIT, 1.0 + SAFETY_MARGIN)


@pytest.mark.django_db(transaction=True)
def test_processes_sharing_the_database_limiter_stay_under_the_limit(sandbox):
    connections.close_all()  # each forked worker opens its own connection to the test database
    statuses, elapsed = _run(sandbox, _make_database_limiter("test"))
    report = sandbox.requests()
    assert statuses == [200] * WORKERS * CALLS_EACH, "the sandbox answered 429"
    assert report["peak_rps"] <= LIMIT
    # 32 calls at 7 per 1.02 s (counted from each answer): the first 7 at once, the rest in about 4 s more
    assert elapsed < 8
    assert 1 <= len(RateLimitWindow.objects.get(name="test").starts) <= LIMIT  # the window, nothing older


def _redis_url() -> str:
    return "redis://127.0.0.1:6379/15"


def _make_redis_limiter(key):
    return lambda: RedisRateLimiter(_redis_url(), key, LIMIT, 1.0 + SAFETY_MARGIN)


@pytest.fixture
def redis_server() -> None:
    """Skips the test where no Redis server answers on 127.0.0.1:6379."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(_redis_url()).ping()
    except redis.RedisError:
        pytest.skip("no Redis server on 127.0.0.1:6379")


@pytest.mark.usefixtures("redis_server")
def test_processes_sharing_the_redis_limiter_stay_under_the_limit(sandbox):
    statuses, _elapsed = _run(sandbox, _make_redis_limiter(f"test:ratelimit:{uuid.uuid4().hex}"))
    assert statuses == [200] * WORKERS * CALLS_EACH
    assert sandbox.requests()["peak_rps"] <= LIMIT


def _turns(limiter, count: int) -> list[float]:
    waits = []
    for _ in range(count):
        with limiter.turn() as waited:
            waits.append(waited)
    return waits


@pytest.mark.django_db
def test_the_limiter_lets_a_burst_of_the_limit_through_at_once():
    limiter = DatabaseRateLimiter("burst", 5, 1.0)
    started = time.monotonic()
    assert _turns(limiter, 5) == [0.0] * 5 and time.monotonic() - started < 0.5
    _turns(limiter, 1)
    assert time.monotonic() - started >= 0.95


@pytest.mark.django_db
def test_starts_from_the_future_do_not_hold_requests_back():
    """A clock set back must not make every request wait for stamps that lie ahead of it."""
    RateLimitWindow.objects.create(name="skewed", starts=[time.time() + 3600] * 5)
    limiter = DatabaseRateLimiter("skewed", 5, 1.0)
    assert _turns(limiter, 5) == [0.0] * 5


def _slow_answer_then_next(sandbox, limiter) -> float:
    """One request the sandbox answers 0.6 s late, then the next turn: seconds from answer to grant."""
    sandbox.configure(rate_limit=0)
    sandbox.fault(kind="slow", seconds=0.6, path="/api/v4/account", times=1)
    headers = {"Authorization": f"Bearer {sandbox.token()}"}
    with limiter.turn():
        requests.get(f"{sandbox.url}/api/v4/account", headers=headers, timeout=10)
    answered = time.monotonic()
    with limiter.turn():
        return time.monotonic() - answered


@pytest.mark.django_db
def test_a_request_counts_from_its_answer_not_from_its_start(sandbox):
    """amoCRM counts a request when it arrives, which may be any time until its answer: a slow request holds
    its place until answered (counted from its start, the next went at once and could share its second)."""
    limiter = DatabaseRateLimiter("slow", 1, 0.4)
    assert _slow_answer_then_next(sandbox, limiter) >= 0.38


@pytest.mark.django_db
def test_a_request_in_flight_holds_its_place_and_its_answer_frees_it_a_window_later():
    limiter = DatabaseRateLimiter("held", 2, 0.3)
    with limiter.turn():
        (in_flight,) = RateLimitWindow.objects.get(name="held").starts
        assert in_flight > time.time() + 30  # counted as long as it is out
    (answered,) = RateLimitWindow.objects.get(name="held").starts
    assert answered <= time.time()


@pytest.mark.usefixtures("redis_server")
def test_the_redis_limiter_counts_from_the_answer_too(sandbox):
    limiter = RedisRateLimiter(_redis_url(), f"test:ratelimit:{uuid.uuid4().hex}", 1, 0.4)
    assert _slow_answer_then_next(sandbox, limiter) >= 0.38


def test_the_installation_limiter_follows_the_settings(settings):
    settings.REDIS_URL = ""
    settings.AMOCRM_RATE_LIMIT = 3
    limiter = get_rate_limiter()
    assert isinstance(limiter, DatabaseRateLimiter) and limiter.rate == 3
    assert limiter.window == pytest.approx(1.0 + SAFETY_MARGIN)
