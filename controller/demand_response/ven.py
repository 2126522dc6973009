"""OpenADR 2.0b VEN (``openleadr``): registers with the utility's VTN, receives events, answers
opt-in/opt-out from the homeowner's wish, and reports the charger's power.

openleadr does the transport (registration, polling, XML, signatures, report scheduling); this
module only translates its event dicts into :class:`~controller.demand_response.limits.DrEvent`
and back.  What an event *does* is decided by :class:`DemandResponseLimits` on the injected
clock, not by openleadr's own timers, so the same logic runs under the virtual clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.demand_response.limits import (
    DemandResponseError,
    DemandResponseLimits,
    DrEvent,
    DrInterval,
)

log = logging.getLogger(__name__)

SUPPORTED_SIGNALS = {("simple", "level")}


@dataclass(frozen=True)
class VenConfig:
    vtn_url: str
    ven_name: str
    ven_id: str | None = None
    cert: str | None = None
    key: str | None = None
    ca_file: str | None = None
    vtn_fingerprint: str | None = None
    report_sampling_s: float = 10.0
    resource_id: str = "evse"

    def __post_init__(self) -> None:
        if not self.vtn_url.startswith(("http://", "https://")):
            raise ValueError(f"vtn_url: expected an http(s) URL, got {self.vtn_url!r}")
        if not self.ven_name:
            raise ValueError("ven_name: must not be empty")
        if self.report_sampling_s <= 0:
            raise ValueError(f"report_sampling_s: must be > 0, got {self.report_sampling_s}")


def event_from_openadr(event: Mapping[str, Any]) -> DrEvent | None:
    """An openleadr event dict as a DrEvent; None if it carries no signal we act on."""
    try:
        descriptor = event["event_descriptor"]
        event_id = str(descriptor["event_id"])
        period = event["active_period"]
        period_start: datetime = period["dtstart"]
    except (KeyError, TypeError) as exc:
        raise DemandResponseError(f"OpenADR event without {exc}") from None
    signals = event.get("event_signals") or []
    intervals: list[DrInterval] = []
    for signal in signals:
        name = str(signal.get("signal_name", "")).lower()
        kind = str(signal.get("signal_type", "")).lower()
        if (name, kind) not in SUPPORTED_SIGNALS:
            log.warning("event %s: signal %s/%s not supported; ignored", event_id, name, kind)
            continue
        cursor = period_start
        for iv in signal.get("intervals") or []:
            start = iv.get("dtstart") or cursor
            duration: timedelta = iv["duration"]
            end = start + duration
            cursor = end
            intervals.append(DrInterval(start.astimezone(UTC), end.astimezone(UTC),
                                        float(iv["signal_payload"])))
    if not intervals:
        return None
    return DrEvent(event_id, tuple(intervals), "OpenADR")


class DemandResponseVen:
    def __init__(
        self,
        limits: DemandResponseLimits,
        config: VenConfig,
        power_w: Callable[[], float],
    ) -> None:
        self._limits = limits
        self.config = config
        self._power_w = power_w
        # imported here: openleadr (lxml, signxml) costs ~20 MB of RSS, only paid with a VTN
        from openleadr import OpenADRClient

        self.client = OpenADRClient(
            ven_name=config.ven_name,
            vtn_url=config.vtn_url,
            ven_id=config.ven_id,
            cert=config.cert,
            key=config.key,
            ca_file=config.ca_file,
            vtn_fingerprint=config.vtn_fingerprint,
            show_fingerprint=False,
            allow_jitter=False,
        )
        self.client.add_handler("on_event", self._on_event)
        self.client.add_handler("on_update_event", self._on_event)
        self.client.add_report(
            callback=self._report_power,
            resource_id=config.resource_id,
            measurement="power_real",
            unit="W",
            sampling_rate=timedelta(seconds=config.report_sampling_s),
            report_duration=timedelta(hours=1),
            power_voltage=240,
            power_hertz=60,
        )
        self._modifications: dict[str, int] = {}
        self._pending: set[asyncio.Task[Any]] = set()

    @property
    def registered(self) -> bool:
        return bool(self.client.registration_id)

    async def start(self) -> None:
        """Register with the VTN and start polling (openleadr's own transport loop)."""
        await self.client.run()
        if not self.registered:
            raise ConnectionError(f"VTN at {self.config.vtn_url} did not register this VEN")

    async def stop(self) -> None:
        for task in list(self._pending):
            task.cancel()
        await self.client.stop()

    def set_opt_out(self, opt_out: bool) -> None:
        """The homeowner's wish; tells the VTN about every event that is still to come or on."""
        self._limits.set_opt_out(opt_out)
        opt_type = "optOut" if opt_out else "optIn"
        for event_id, modification in self._modifications.items():
            if event_id in self._limits.events:
                task = asyncio.get_running_loop().create_task(
                    self.client.created_event(
                        request_id=uuid.uuid4().hex, event_id=event_id,
                        opt_type=opt_type, modification_number=modification,
                    )
                )
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def _on_event(self, event: dict[str, Any]) -> str:
        descriptor = event.get("event_descriptor", {})
        event_id = str(descriptor.get("event_id", ""))
        status = str(descriptor.get("event_status", ""))
        if status == "cancelled":
            self._limits.cancel_event(event_id)
            self._modifications.pop(event_id, None)
            return "optIn" if not self._limits.opt_out else "optOut"
        try:
            parsed = event_from_openadr(event)
        except DemandResponseError as exc:
            log.error("OpenADR event refused: %s", exc)
            return "optOut"
        if parsed is None:
            return "optOut"
        self._modifications[event_id] = int(descriptor.get("modification_number", 0))
        self._limits.add_event(parsed)
        return "optOut" if self._limits.opt_out else "optIn"

    def _report_power(self) -> float:
        return float(self._power_w())
