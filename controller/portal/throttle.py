"""Login rate limit per client address (on top of the per-user lock-out in accounts).

Guessing many user names from one address is slowed down here; guessing one user's password
from many addresses is stopped by that user's lock-out.
"""

from __future__ import annotations

from collections import deque

from controller.clock import Clock

WINDOW_S = 600.0
MAX_FAILURES = 10
MAX_TRACKED = 10_000


class LoginThrottle:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        now = self.clock.now()
        times = self._failures.get(address, deque())
        while times and now - times[0] > WINDOW_S:
            times.popleft()
        return times

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again (0: now)."""
        times = self._recent(address)
        if len(times) < MAX_FAILURES:
            return 0.0
        return max(1.0, WINDOW_S - (self.clock.now() - times[0]))

    def failed(self, address: str) -> None:
        if len(self._failures) >= MAX_TRACKED and address not in self._failures:
            self._failures.pop(next(iter(self._failures)))
        times = self._recent(address)
        times.append(self.clock.now())
        self._failures[address] = times

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
