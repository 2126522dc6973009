"""What the energy drawn so far cost under the tariff in force (for summaries and the twin).

Independent of session pricing (what the driver pays the station owner): this is what the
household pays the utility, used to compare schedules and goals.
"""

from __future__ import annotations

from datetime import UTC, datetime

from controller.charging.station import Station, StationSnapshot
from controller.scheduling.price_source import PriceSource


class EnergyCostMeter:
    """Prices each rise of the register over the time the energy flowed.

    The register may report energy a moment after the contactor opened, so a rise seen while
    nothing flows is spread over the time up to when the flow stopped, not up to now.
    """

    def __init__(self, station: Station, prices: PriceSource) -> None:
        self._station = station
        self._prices = prices
        self.energy_wh = 0
        self.cost = 0.0
        self._last_wh = station.register_wh
        self._last_t = station.clock.now()
        self._flowing = False
        self._stopped_at: float | None = None
        station.on_change(self._on_change)

    def _on_change(self, snap: StationSnapshot) -> None:
        now = self._station.clock.now()
        flowing = snap.current_a > 0
        delta = snap.energy_wh - self._last_wh
        if delta > 0:
            end = now if flowing or self._stopped_at is None else self._stopped_at
            start = min(self._last_t, end)
            try:
                self.cost += self._prices.energy_cost(
                    datetime.fromtimestamp(start, tz=UTC), datetime.fromtimestamp(end, tz=UTC),
                    float(delta),
                )
            except ValueError:  # no price for that time: count the energy, not a guess
                pass
            self.energy_wh += delta
            self._last_t = now
        if delta != 0:
            self._last_wh = snap.energy_wh
        if flowing and not self._flowing:
            self._last_t = now  # idle time before the flow is not charging time
            self._stopped_at = None
        elif not flowing and self._flowing:
            self._stopped_at = now
        self._flowing = flowing
