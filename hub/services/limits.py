"""Rate limits and quotas per API key and member, answered with 429 and Retry-After.

- Requests: a token bucket per API key (`limits.requests_per_minute`, `limits.burst`). With
  Redis configured the bucket lives in Redis (one atomic script per request), so every web
  process on every host shares it; without Redis each process keeps its own buckets.
- Objects: `limits.objects_per_day`, the objects a member may submit in any 24 hours, counted
  from its recorded submissions (exact across processes and hosts).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from hub.errors import TooManyRequests
from hub.services.context import Hub


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after: float  # seconds until a token is back (0 when allowed)


class Bucket(Protocol):
    def take(self, key: str, rate_per_s: float, capacity: int) -> Verdict: ...


class MemoryBuckets:
    """Token buckets in this process."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, rate_per_s: float, capacity: int) -> Verdict:
        now = self._clock()
        with self._lock:
            tokens, stamp = self._state.get(key, (float(capacity), now))
            tokens = min(float(capacity), tokens + (now - stamp) * rate_per_s)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                return Verdict(True, 0.0)
            self._state[key] = (tokens, now)
            return Verdict(False, (1 - tokens) / rate_per_s)


# KEYS[1]: the bucket; ARGV: rate per second, capacity, now (seconds, float as text).
# Returns {allowed (1/0), milliseconds until the next token}.
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, wait}
"""


class RedisBuckets:
    """Token buckets in Redis, shared by every process (the Redis server's clock is used)."""

    PREFIX = "hub:ratelimit:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_TAKE)

    def take(self, key: str, rate_per_s: float, capacity: int) -> Verdict:
        seconds, micros = self._redis.time()
        now = f"{seconds}.{micros:06d}"
        allowed, wait_ms = self._script(keys=[self.PREFIX + key], args=[rate_per_s, capacity, now])
        return Verdict(bool(int(allowed)), int(wait_ms) / 1000)


def _buckets(hub: Hub) -> Bucket:
    buckets: Bucket | None = hub.cache.get("rate_buckets")
    if buckets is None:
        url = hub.settings.queue.redis_url
        buckets = RedisBuckets(url) if url else MemoryBuckets()
        hub.cache["rate_buckets"] = buckets
    return buckets


def check_request(hub: Hub, key_id: str) -> None:
    """Take one request from the key's bucket, or raise TooManyRequests. When Redis cannot
    be reached the request is let through (a limiter must not take the hub down)."""
    limits = hub.settings.limits
    if not limits.requests_per_minute:
        return
    rate = limits.requests_per_minute / 60.0
    try:
        verdict = _buckets(hub).take(key_id, rate, max(1, limits.burst))
    except Exception:
        return
    if not verdict.allowed:
        raise TooManyRequests(
            f"more than {limits.requests_per_minute} requests a minute from this key",
            math.ceil(verdict.retry_after),
        )


def check_objects(hub: Hub, member_id: str, adding: int, now_us: int) -> None:
    """Refuse a submission that would take the member past its objects in 24 hours."""
    quota = hub.settings.limits.objects_per_day
    if not quota:
        return
    from hub.storage.submissions import objects_since

    window = 86_400 * 1_000_000
    with hub.db.read() as conn:
        used, oldest = objects_since(conn, member_id, now_us - window)
    if used + adding > quota:
        retry = (oldest + window - now_us) / 1e6 if oldest is not None else 3600
        raise TooManyRequests(
            f"this submission of {adding} objects would pass the quota of {quota} objects in "
            f"24 hours ({used} used)",
            math.ceil(retry),
        )
