"""The DIP switch table of SPEC §DIP switch."""

from __future__ import annotations

from dataclasses import dataclass

# (SW1, SW2, SW3) -> max amps; OFF OFF OFF is the factory-reset position.
DIP_TABLE: dict[tuple[bool, bool, bool], int] = {
    (False, False, True): 12,
    (False, True, False): 16,
    (False, True, True): 24,
    (True, False, False): 32,
    (True, False, True): 40,
    (True, True, False): 50,
    (True, True, True): 48,
}

BREAKER_FOR_AMPS: dict[int, int] = {12: 15, 16: 20, 24: 30, 32: 40, 40: 50, 48: 60, 50: 70}


@dataclass(frozen=True)
class DipSetting:
    max_a: int  # 0 in the reset position: nothing may be offered
    factory_reset: bool

    @property
    def breaker_a(self) -> int | None:
        return BREAKER_FOR_AMPS.get(self.max_a)


def decode_dip(sw1: bool, sw2: bool, sw3: bool) -> DipSetting:
    if (sw1, sw2, sw3) == (False, False, False):
        return DipSetting(max_a=0, factory_reset=True)
    return DipSetting(max_a=DIP_TABLE[(sw1, sw2, sw3)], factory_reset=False)


def dip_for_amps(amps: int) -> tuple[bool, bool, bool]:
    """The switch positions that select ``amps`` (for simulators and tests)."""
    for switches, value in DIP_TABLE.items():
        if value == amps:
            return switches
    raise ValueError(f"no DIP position for {amps} A; choose one of {sorted(DIP_TABLE.values())}")
