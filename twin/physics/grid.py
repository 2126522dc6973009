"""The supply feeding the charger: its voltage (sag, swell) and whether it is there at all."""

from __future__ import annotations

import math

MAX_GRID_V = 400.0


def _check_voltage(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"grid voltage must be a finite number, got {value!r}")
    if not 0.0 < value <= MAX_GRID_V:
        raise ValueError(f"grid voltage must be within 0..{MAX_GRID_V} V, got {value!r}")
    return float(value)


class Grid:
    """Split-phase L1-L2 supply (208 or 240 V nominal)."""

    def __init__(self, nominal_v: float = 240.0) -> None:
        self.nominal_v = _check_voltage(nominal_v)
        self._voltage = self.nominal_v
        self._powered = True

    @property
    def voltage_v(self) -> float:
        """Line voltage when powered (kept through a cut, so it comes back as it was)."""
        return self._voltage

    @property
    def powered(self) -> bool:
        return self._powered

    @property
    def supply_v(self) -> float:
        """What the board actually sees: 0 during a power cut."""
        return self._voltage if self._powered else 0.0

    def set_voltage(self, volts: float) -> None:
        self._voltage = _check_voltage(volts)

    def sag(self, volts: float) -> None:
        volts = _check_voltage(volts)
        if volts >= self.nominal_v:
            raise ValueError(f"a sag must be below nominal {self.nominal_v} V, got {volts} V")
        self._voltage = volts

    def swell(self, volts: float) -> None:
        volts = _check_voltage(volts)
        if volts <= self.nominal_v:
            raise ValueError(f"a swell must be above nominal {self.nominal_v} V, got {volts} V")
        self._voltage = volts

    def restore_nominal(self) -> None:
        self._voltage = self.nominal_v

    def cut(self) -> None:
        self._powered = False

    def restore(self) -> None:
        self._powered = True
