"""J1772 pilot duty cycle <-> offered current."""

from __future__ import annotations

MIN_OFFER_A = 6.0
MAX_OFFER_A = 80.0
NO_OFFER_DUTY = 100.0  # steady +12 V: EVSE present, no current offered
STATE_F_DUTY = 0.0  # steady -12 V: EVSE not available


def duty_from_amps(amps: float) -> float:
    """Duty % for an offer: 6–51 A → A / 0.6; 51–80 A → A / 2.5 + 64 (SAE J1772)."""
    if amps < MIN_OFFER_A or amps > MAX_OFFER_A:
        raise ValueError(f"offer {amps} A outside 6–80 A; suspend instead of offering it")
    if amps <= 51.0:
        return round(amps / 0.6, 2)
    return round(amps / 2.5 + 64.0, 2)


def amps_from_duty(duty_pct: float) -> float:
    """What an EV reads from a duty cycle; 0 for duties that carry no offer."""
    if 10.0 <= duty_pct <= 85.0:
        return round(duty_pct * 0.6, 2)
    if 85.0 < duty_pct <= 96.0:
        return round((duty_pct - 64.0) * 2.5, 2)
    if 8.0 <= duty_pct < 10.0:
        return 6.0
    return 0.0
