"""Recent power and energy samples of the station, for the EVSE Status chart.

Filled from ``station.on_change``; at most one sample per second and a bounded number of them,
so a long session costs a fixed amount of memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from controller.charging.station import StationSnapshot

MAX_SAMPLES = 3600
MIN_SPACING_S = 1.0


@dataclass(frozen=True)
class PowerSample:
    at: float
    power_w: float
    session_energy_wh: int
    session_id: int | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {"t": round(self.at, 1), "w": self.power_w, "wh": self.session_energy_wh,
                "session": self.session_id}


class PowerHistory:
    def __init__(self, max_samples: int = MAX_SAMPLES) -> None:
        self._samples: deque[PowerSample] = deque(maxlen=max_samples)

    def add(self, at: float, snap: StationSnapshot) -> PowerSample | None:
        """Keep a sample of ``snap`` unless the last one is under a second old and alike."""
        session = snap.session
        sample = PowerSample(
            at, snap.power_w, snap.session_energy_wh,
            None if session is None or session.get("stopped") else int(session["id"]),
        )
        last = self._samples[-1] if self._samples else None
        if last is not None and at - last.at < MIN_SPACING_S and last.session_id == sample.session_id:
            return None
        self._samples.append(sample)
        return sample

    def samples(self) -> list[PowerSample]:
        return list(self._samples)
