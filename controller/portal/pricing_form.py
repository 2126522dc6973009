"""The portal's Default Pricing form (SPEC §Station settings) as the session pricer's settings.

The form describes one local price scheme (one usage rule and one parking rule), used for
members and non-members alike; the member / non-member scheme ids are names the central
system's app knows it by and are kept with the form.
"""

from __future__ import annotations

from typing import Any

SCHEME_ID = "default"
_DAYS: dict[str, list[str]] = {
    "Everyday": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "Weekdays": ["mon", "tue", "wed", "thu", "fri"],
    "Weekends": ["sat", "sun"],
    **{d.capitalize(): [d] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
}


def pricing_from_form(form: dict[str, Any]) -> dict[str, Any]:
    """Pricing settings (controller.pricing.PricingSettings as JSON) for the form's values."""
    usage_type = str(form.get("usage_billing_type", "kWh"))
    usage_unit = int(form.get("usage_unit_interval", 1))
    usage: dict[str, Any] = {
        "type": usage_type,
        "days": _DAYS.get(str(form.get("usage_day_of_week", "Everyday")), _DAYS["Everyday"]),
        "start": str(form.get("usage_start", "0000")),
        "end": str(form.get("usage_end", "2359")),
        # a Time rule bills per interval of this many minutes; kWh and Session ignore it
        "unit_interval_s": usage_unit * 60 if usage_type == "Time" else 3600,
        "interval_rate": float(form.get("usage_interval_rate_usd", 0.0)),
        "grace_period_s": int(form.get("usage_grace_period_s", 0)),
    }
    parking: dict[str, Any] = {
        "type": "Time",
        "days": _DAYS.get(str(form.get("parking_day_of_week", "Everyday")), _DAYS["Everyday"]),
        "start": str(form.get("parking_start", "0000")),
        "end": str(form.get("parking_end", "2359")),
        "unit_interval_s": int(form.get("parking_unit_interval_min", 60)) * 60,
        "interval_rate": float(form.get("parking_interval_rate_usd", 0.0)),
        "grace_period_s": int(form.get("parking_grace_period_s", 0)),
    }
    cap = float(form.get("parking_rate_cap_usd", 0.0))
    return {
        "member_scheme_id": SCHEME_ID,
        "non_member_scheme_id": SCHEME_ID,
        "schemes": [{
            "id": SCHEME_ID,
            "usage": [usage] if usage["interval_rate"] > 0 else [],
            "parking": [parking] if parking["interval_rate"] > 0 else [],
        }],
        "initial_grace_period_s": int(form.get("initial_grace_period_s", 0)),
        "parking_rate_cap": cap if cap > 0 else None,
        "tax_rate_pct": float(form.get("tax_rate_pct", 0.0)),
        "service_fee": float(form.get("service_fee_usd", 0.0)),
    }
