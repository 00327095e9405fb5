"""SEND_RATE: one messages-per-second limit shared by every worker, kept in Redis (GCRA)."""

from __future__ import annotations

import time

from redis import Redis

KEY = "updates:send-rate"

# Reserve `n` sends at `interval` ms each; answer how many ms to wait first (0: go now).
# The theoretical arrival time may run up to one second ahead, allowing a one-second burst.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat + interval * n - now - 1000
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(tat + interval * n), 'PX', 60000)
return '0'
"""


class SendRate:
    """Call `take()` before each message; blocks as needed to keep the global rate."""

    def __init__(self, connection: Redis, per_second: float) -> None:
        self.per_second = per_second
        self.connection = connection
        self.block = max(1, int(per_second // 20))  # fewer round trips at high rates
        self.available = 0
        self._script = connection.register_script(_RESERVE) if per_second > 0 else None

    def take(self) -> None:
        if self._script is None:
            return
        if self.available == 0:
            interval = 1000.0 / self.per_second
            while (wait := float(self._script(keys=[KEY], args=[interval, self.block]))) > 0:
                time.sleep(wait / 1000)
            self.available = self.block
        self.available -= 1
