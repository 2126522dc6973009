"""Read-only network facts shown on Communication Settings.

There is no modem or Wi-Fi radio behind ``mq200 run --sim``; this stands in for what the network
layer would report, derived from the serial number so it is stable for one charger.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class NetworkReport:
    simulated: bool
    active: str
    ethernet_link: str
    ethernet_ip: str
    wifi_signal_dbm: int
    wifi_scan: tuple[str, ...]
    cellular_signal_dbm: int
    iccid: str
    imsi: str
    imei: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _digits(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return "".join(str(int(c, 16) % 10) for c in digest)[:n]


def simulated_report(serial: str, network_letter: str) -> NetworkReport:
    active = {"E": "Ethernet", "W": "Wi-Fi", "L": "Cellular", "A": "Wi-Fi access point"}.get(
        network_letter, "none")
    return NetworkReport(
        simulated=True,
        active=active,
        ethernet_link="down",
        ethernet_ip="",
        wifi_signal_dbm=-48 - int(_digits(serial + "w", 2)) % 30,
        wifi_scan=("HomeNet", "HomeNet-5G", "Garage-AP"),
        cellular_signal_dbm=-75 - int(_digits(serial + "c", 2)) % 30,
        iccid="8901" + _digits(serial + "iccid", 15),
        imsi="310" + _digits(serial + "imsi", 12),
        imei=_digits(serial + "imei", 15),
    )
