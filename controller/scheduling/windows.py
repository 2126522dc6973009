"""A plan as the few "charging windows" a person reads ("charges 01:00–05:30, 22 kWh")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.scheduling.planner import ChargingPlan


@dataclass(frozen=True)
class ChargingWindow:
    start: datetime
    end: datetime
    energy_wh: float
    cost: float

    @property
    def average_power_w(self) -> float:
        hours = (self.end - self.start).total_seconds() / 3600.0
        return self.energy_wh / hours if hours > 0 else 0.0


def charging_windows(plan: ChargingPlan) -> list[ChargingWindow]:
    """Merge planned slots that follow each other without a pause into one window each.

    A slot that is only partly used ends its window early (charging runs from the slot start),
    so the next slot starts a new window.
    """
    windows: list[ChargingWindow] = []
    for slot in plan.slots:
        if slot.energy_wh <= 0.0:
            continue
        end = slot.charging_end
        if windows and windows[-1].end == slot.start:
            last = windows[-1]
            windows[-1] = ChargingWindow(
                last.start, end, last.energy_wh + slot.energy_wh, last.cost + slot.cost
            )
        else:
            windows.append(ChargingWindow(slot.start, end, slot.energy_wh, slot.cost))
    return windows
