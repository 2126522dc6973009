from __future__ import annotations

from controller.clock import ScopedClock, VirtualClock


def test_virtual_clock_fires_in_order_and_jumps() -> None:
    clock = VirtualClock(100.0)
    fired: list[tuple[float, str]] = []
    clock.call_later(5, lambda: fired.append((clock.now(), "b")))
    clock.call_at(101, lambda: fired.append((clock.now(), "a")))
    h = clock.call_later(3, lambda: fired.append((clock.now(), "x")))
    h.cancel()
    clock.run_until(1000)
    assert fired == [(101.0, "a"), (105.0, "b")]
    assert clock.now() == 1000.0


def test_scoped_clock_close_cancels_everything_and_forgets_fired_timers() -> None:
    base = VirtualClock()
    scope = ScopedClock(base)
    fired: list[str] = []
    scope.call_later(1, lambda: fired.append("one"))
    scope.call_later(10, lambda: fired.append("ten"))
    cancelled = scope.call_later(2, lambda: fired.append("never"))
    cancelled.cancel()
    base.advance(5)
    assert fired == ["one"]
    assert len(scope._handles) == 1  # only the pending one is remembered
    scope.close()
    base.advance(100)
    assert fired == ["one"]
    scope.call_later(1, lambda: fired.append("after close"))
    base.advance(5)
    assert fired == ["one"]
