"""Draw a timeline for people who would rather look than read (matplotlib, no display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_timeline(timeline: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = timeline["samples"]
    chargers = sorted({s["charger"] for s in samples})
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(10, 7))
    for cid in chargers:
        rows = [s for s in samples if s["charger"] == cid]
        hours = [s["t_s"] / 3600 for s in rows]
        axes[0].step(hours, [s.get("power_w", 0) / 1000 for s in rows], where="post", label=cid)
        axes[1].step(hours, [s["offered_a"] for s in rows], where="post", label=cid)
        soc_rows = [(s["t_s"] / 3600, s["soc"] * 100) for s in rows if s.get("soc") is not None]
        if soc_rows:
            axes[2].plot([r[0] for r in soc_rows], [r[1] for r in soc_rows], ".-", label=cid)
    axes[0].set_ylabel("power (kW)")
    axes[1].set_ylabel("offered (A)")
    axes[2].set_ylabel("EV SoC (%)")
    axes[2].set_xlabel("hours since start")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
    fig.suptitle(f"MQ 200 scenario from {timeline['scenario']['start']}")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
