"""The tariff in force for planning and costing: a base tariff plus pushed dynamic prices.

The base is a time-of-use (or dynamic) tariff from a file or a scenario, or a flat price when
nothing is configured.  Dynamic prices pushed through the twin (e.g. day-ahead prices from
Home Assistant, desired ``prices``) take precedence where they exist; outside their horizon the
base tariff prices the time, so a departure beyond tomorrow's prices still gets a plan.
Pushed prices are persisted so a restart does not forget them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controller.scheduling.tariff import (
    DynamicTariff,
    Tariff,
    TariffError,
    load_tariff_file,
    tariff_from_dict,
)
from controller.storage import Storage

PRICES_KEY = "tariff_pushed_prices"
BASE_KEY = "tariff_base"


@dataclass(frozen=True)
class FlatTariff:
    """One price at all times: what is assumed when no tariff is configured."""

    price_per_kwh: float = 0.0
    timezone: str = "UTC"
    currency: str = "USD"

    def price_segments(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, float]]:
        if end > start:
            yield start.astimezone(UTC), end.astimezone(UTC), self.price_per_kwh


@dataclass(frozen=True)
class LayeredTariff:
    """Dynamic prices where known, the base tariff elsewhere."""

    dynamic: DynamicTariff
    base: Tariff

    @property
    def timezone(self) -> str:
        return self.base.timezone

    @property
    def currency(self) -> str:
        return self.base.currency

    def price_segments(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime, float]]:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        hs, he = self.dynamic.horizon_start, self.dynamic.horizon_end
        cuts = [
            (start, min(end, hs), self.base),
            (max(start, hs), min(end, he), self.dynamic),
            (max(start, he), end, self.base),
        ]
        for a, b, tariff in cuts:
            if b > a:
                yield from tariff.price_segments(a, b)


class PriceSource:
    def __init__(self, storage: Storage, timezone: Callable[[], str], currency: str = "USD") -> None:
        self._storage = storage
        self._timezone = timezone
        self._currency = currency
        self._listeners: list[Callable[[], None]] = []
        self._base_data: dict[str, Any] | None = None
        self._base: Tariff | None = None
        self._pushed: DynamicTariff | None = None
        self._pushed_raw: list[dict[str, Any]] | None = None
        base = storage.get_json(BASE_KEY)
        if isinstance(base, dict):
            try:
                self._base = tariff_from_dict(base, default_timezone=timezone())
                self._base_data = base
            except TariffError:
                self._base = None
        pushed = storage.get_json(PRICES_KEY)
        if isinstance(pushed, list) and pushed:
            try:
                self._pushed = self._dynamic(pushed)
                self._pushed_raw = pushed
            except TariffError:
                self._pushed = None

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    @property
    def tariff(self) -> Tariff:
        base = self._base or FlatTariff(0.0, self._timezone(), self._currency)
        if self._pushed is None:
            return base
        return LayeredTariff(self._pushed, base)

    @property
    def configured(self) -> bool:
        return self._base is not None or self._pushed is not None

    def set_base(self, data: dict[str, Any] | None) -> None:
        """A tariff as decoded JSON (docs/scheduling.md), or None for "no tariff"."""
        if data is None:
            self._base, self._base_data = None, None
            self._storage.delete(BASE_KEY)
        else:
            tariff = tariff_from_dict(data, default_timezone=self._timezone())
            self._storage.put_json(BASE_KEY, data)
            self._base, self._base_data = tariff, data
        self._notify()

    def load_base_file(self, path: str | Path) -> None:
        """Load a .json or .csv price file (TariffError names the file and field)."""
        tariff = load_tariff_file(path, timezone=self._timezone(), currency=self._currency)
        self._base = tariff
        self._notify()

    def set_prices(self, prices: list[dict[str, Any]] | None) -> None:
        """Dynamic prices ``[{start, end, price_per_kwh}]`` (ISO with offsets); None clears."""
        if not prices:
            self._pushed, self._pushed_raw = None, None
            self._storage.delete(PRICES_KEY)
        else:
            tariff = self._dynamic(prices)
            self._storage.put_json(PRICES_KEY, prices)
            self._pushed, self._pushed_raw = tariff, prices
        self._notify()

    def price_at(self, instant: datetime) -> float:
        for _, _, price in self.tariff.price_segments(instant, instant + timedelta(microseconds=1)):
            return price
        return math.nan

    def energy_cost(self, start: datetime, end: datetime, energy_wh: float) -> float:
        """Cost of ``energy_wh`` drawn evenly over [start, end)."""
        if energy_wh <= 0:
            return 0.0
        if end <= start:
            return energy_wh / 1000.0 * self.price_at(start)
        total_s = (end - start).total_seconds()
        cost = 0.0
        for a, b, price in self.tariff.price_segments(start, end):
            cost += energy_wh / 1000.0 * price * (b - a).total_seconds() / total_s
        return cost

    def _dynamic(self, prices: list[dict[str, Any]]) -> DynamicTariff:
        tariff = tariff_from_dict(
            {"type": "dynamic", "timezone": self._timezone(), "currency": self._currency,
             "prices": prices},
            default_timezone=self._timezone(),
        )
        assert isinstance(tariff, DynamicTariff)
        return tariff

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()
