"""Runs inside bench/.venv: latest.json → latest.png (throughput bars + latency bars)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib  # type: ignore[import-not-found]

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # type: ignore[import-not-found]


def main() -> None:
    results = Path(sys.argv[1])
    data = json.loads((results / "latest.json").read_text("utf-8"))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [
        "newswire ingest\n(2 cores, all stages)",
        "feedparser loop\n(1 core)",
        "reader\nupdate_feeds",
    ]
    keys = ("ingest_entries_per_s", "feedparser_entries_per_s", "reader_entries_per_s")
    values = [data[k] or 0 for k in keys]
    bars = left.bar(names, values, color=["#1f77b4", "#7f7f7f", "#ff7f0e"])
    left.bar_label(bars, fmt="%.0f")
    left.set_ylabel("entries / s")
    left.set_title(f"Cold throughput, {data['feeds']} feeds")
    lat = [data["latency_p50_s"], data["latency"]["p90_s"], data["latency_p99_s"]]
    bars = right.bar(["p50", "p90", "p99"], lat, color="#2ca02c")
    right.bar_label(bars, fmt="%.3f s")
    right.axhline(1.0, color="red", linestyle="--", linewidth=1, label="p99 target 1 s")
    right.set_ylabel("seconds")
    right.set_title(f"Response → XADD at {data['latency']['articles_per_s']:.0f} articles/s")
    right.legend()
    fig.suptitle(f"newswire bench {data['date']} — {data['machine']['cpu_model']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(results / "latest.png", dpi=110)


if __name__ == "__main__":
    main()
