"""One rate limiter shared by every process of the installation.

A sliding log over *answers*: a request may start only when fewer than ``rate`` requests are in flight or
were answered in the last ``window`` seconds. amoCRM counts a request when it arrives, which is somewhere
between our grant and its answer; counting each request from its answer (and as "now" while it is in
flight) therefore keeps any ``window`` of arrivals at ``rate`` or fewer, whatever the delays between our
grant, the wire and amoCRM's clock. Counting from the grant (as this limiter did) left that to a safety
margin, and a worker paused 100 ms between its grant and its send on a loaded machine made the server see
``rate + 1`` (a 429).

Use :meth:`RateLimiter.turn` around exactly one request::

    with limiter.turn():
        response = session.request(...)

Backends: Redis (:class:`RedisRateLimiter`, Lua scripts over a sorted set, clock from the Redis server) here;
the database one (a row locked for each turn) lives with the models it needs, in
``console.amocrm.account.ratelimit``, which also picks the installation's limiter and hands it to the
transport (this package imports no models).

amoCRM allows 7 requests per second and blocks an account that keeps exceeding it:
https://www.amocrm.ru/developers/content/api/recommendations
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

# Extra seconds added to the 1 s window, for a server that counts its window's edge inclusively and for clock
# rounding; delays on the way are covered by counting from the answer (see above).
SAFETY_MARGIN = 0.02
# Never sleep longer than this in one step, so a stuck state cannot freeze a worker.
MAX_SLEEP = 2.0
# A request in flight holds its place for at most this long: a worker killed mid-request never reports its
# answer, and its place must come back (one place of ``rate`` lost for a minute, at worst).
IN_FLIGHT_HOLD = 60.0


class RateLimiter(Protocol):
    def turn(self) -> AbstractContextManager[float]:
        """Wait for one request's place and hold it while the request is in flight (yields seconds waited)."""
        ...


class SlidingLog:
    """:meth:`turn` on top of a backend's ``_try() -> (place or "", seconds to wait)`` and
    ``_answered(place)``."""

    def _try(self) -> tuple[str, float]:
        raise NotImplementedError

    def _answered(self, place: str) -> None:
        raise NotImplementedError

    @contextmanager
    def turn(self) -> Iterator[float]:
        waited = 0.0
        while True:
            place, delay = self._try()
            if place:
                break
            # amoCRM asks clients to wait for their turn rather than send and be refused.
            delay = min(delay, MAX_SLEEP)
            time.sleep(delay)
            waited += delay
        try:
            yield waited
        finally:
            self._answered(place)


# KEYS[1] the log; ARGV: rate, window (µs), hold (µs), place. A place in flight is scored "now + hold" (it
# counts as long as it is out); its answer rescores it to the answer's time (_ANSWERED).
_GRANT = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local window_us = tonumber(ARGV[2])
local hold_us = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_us)
local count = redis.call('ZCARD', key)
if count < rate then
  redis.call('ZADD', key, now + hold_us, ARGV[4])
  redis.call('PEXPIRE', key, math.ceil((hold_us + window_us) / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', key, count - rate, count - rate, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window_us - now
if wait < 1000 then wait = 1000 end
return wait
"""
_ANSWERED = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
return 0
"""


class RedisRateLimiter(SlidingLog):
    """Sliding log in a Redis sorted set, atomic through Lua scripts (every host)."""

    def __init__(self, url: str, key: str, rate: float, window: float) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.key = key
        self.rate = max(1, int(rate))
        self.window_us = int(window * 1_000_000)
        self.grant_script = self.client.register_script(_GRANT)
        self.answered_script = self.client.register_script(_ANSWERED)

    def _try(self) -> tuple[str, float]:
        place = uuid.uuid4().hex
        args = [self.rate, self.window_us, int(IN_FLIGHT_HOLD * 1_000_000), place]
        wait_us = int(self.grant_script(keys=[self.key], args=args))
        return ("", wait_us / 1_000_000) if wait_us else (place, 0.0)

    def _answered(self, place: str) -> None:
        self.answered_script(keys=[self.key], args=[place])
