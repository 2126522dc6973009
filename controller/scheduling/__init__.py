"""Tariffs and the departure-time charging planner (pure logic, no timers, no I/O but price files).

The charge logic turns a :class:`~controller.scheduling.planner.ChargingPlan` into a limit source
for the current-limit arbiter; nothing here commands the charger.
"""

from controller.scheduling.planner import (
    ChargingGoal,
    ChargingPlan,
    PlannedSlot,
    PlanningSlot,
    SafetyMargin,
    asap_plan,
    plan_charging,
    plan_for_tariff,
    planning_slots,
    power_cap_w,
)
from controller.scheduling.tariff import (
    DynamicTariff,
    PriceGapError,
    PriceInterval,
    Season,
    SlotPrice,
    Tariff,
    TariffError,
    TimeOfUseTariff,
    TouPeriod,
    load_tariff_file,
    slot_grid,
    slot_prices,
    tariff_from_dict,
)
from controller.scheduling.windows import ChargingWindow, charging_windows

__all__ = [
    "ChargingGoal",
    "ChargingPlan",
    "ChargingWindow",
    "DynamicTariff",
    "PlannedSlot",
    "PlanningSlot",
    "PriceGapError",
    "PriceInterval",
    "SafetyMargin",
    "Season",
    "SlotPrice",
    "Tariff",
    "TariffError",
    "TimeOfUseTariff",
    "TouPeriod",
    "asap_plan",
    "charging_windows",
    "load_tariff_file",
    "plan_charging",
    "plan_for_tariff",
    "planning_slots",
    "power_cap_w",
    "slot_grid",
    "slot_prices",
    "tariff_from_dict",
]
