"""The portal's Default Pricing form prices sessions: stored with the session, shown in the portal."""

from __future__ import annotations

import pytest

from controller.portal.extra_settings import DEFAULTS
from controller.portal.pricing_form import pricing_from_form
from controller.pricing import SessionPricer
from tests.station_harness import Harness


def test_form_values_price_a_session_by_kwh_with_tax_and_fee() -> None:
    h = Harness()
    pricer = SessionPricer(h.station)
    form = {**DEFAULTS["pricing"], "usage_billing_type": "kWh", "usage_interval_rate_usd": 0.30,
            "tax_rate_pct": 10.0, "service_fee_usd": 1.0}
    pricer.apply(pricing_from_form(form))
    h.boot()
    h.start_charging()
    h.clock.advance(3600)
    h.meter(240.0, 32.0, add_wh=10_000)
    h.pilot("A")
    record = h.storage.sessions()[0]
    # 10 kWh x 0.30 + 1.00 fee, plus 10 % tax
    assert record.cost == pytest.approx((10 * 0.30 + 1.0) * 1.10, abs=0.01)


def test_free_by_default_and_bad_values_refused() -> None:
    settings = pricing_from_form(dict(DEFAULTS["pricing"]))
    assert settings["schemes"][0]["usage"] == [] and settings["schemes"][0]["parking"] == []
    h = Harness()
    pricer = SessionPricer(h.station)
    with pytest.raises(ValueError):
        pricer.apply(pricing_from_form({**DEFAULTS["pricing"], "usage_interval_rate_usd": 0.5,
                                        "usage_start": "2500"}))
