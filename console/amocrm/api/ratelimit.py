"""One rate limiter shared by every process of the installation.

A sliding log: a request may start only when fewer than ``rate`` requests started in the last ``window``
seconds. The window is one second plus a small safety margin, so that network and scheduling jitter between
our grant and amoCRM's arrival time never puts ``rate + 1`` requests into any one-second window the server
sees.

Backends: Redis (:class:`RedisRateLimiter`, a Lua script over a sorted set, clock from the Redis server)
here; the database one (a row locked for each turn) lives with the models it needs, in
``console.amocrm.account.ratelimit``, which also picks the installation's limiter and hands it to the
transport (this package imports no models).

amoCRM allows 7 requests per second and blocks an account that keeps exceeding it:
https://www.amocrm.ru/developers/content/api/recommendations
"""

from __future__ import annotations

import time
import uuid
from typing import Protocol

# Extra seconds added to the 1 s window; the achieved rate is rate / (1 + margin) (about 91 % of the limit).
# 0.05 s was not enough on a loaded 2-core machine: a request delayed 50 ms more than a later one on its way
# to the server made the server count limit + 1 requests in one second (a 429 in CI). Repeated 429s get the
# account blocked, so we give up a few per cent of throughput for the margin.
SAFETY_MARGIN = 0.1
# Never sleep longer than this in one step, so a stuck state cannot freeze a worker.
MAX_SLEEP = 2.0


class RateLimiter(Protocol):
    def acquire(self) -> float:
        """Block until one request may start; return the seconds waited."""
        ...


_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local window_us = tonumber(ARGV[2])
local member = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_us)
local count = redis.call('ZCARD', key)
if count < rate then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window_us / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', key, count - rate, count - rate, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window_us - now
if wait < 1000 then wait = 1000 end
return wait
"""


class RedisRateLimiter:
    """Sliding-log limiter in a Redis sorted set, atomic through one Lua script (every host)."""

    def __init__(self, url: str, key: str, rate: float, window: float) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.key = key
        self.rate = max(1, int(rate))
        self.window_us = int(window * 1_000_000)
        self.script = self.client.register_script(_LUA)

    def acquire(self) -> float:
        waited = 0.0
        while True:
            wait_us = int(self.script(keys=[self.key], args=[self.rate, self.window_us, uuid.uuid4().hex]))
            if not wait_us:
                return waited
            delay = min(wait_us / 1_000_000, MAX_SLEEP)
            time.sleep(delay)
            waited += delay
