"""Results: machine facts, latest.json (+ dated copy), latest.md."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

TARGETS = {
    "ingest_vs_feedparser": (">=", 1.0),
    "ingest_vs_reader": (">=", 2.0),
    "warm_polls_per_s": (">=", 1000.0),
    "latency_p99_s": ("<=", 1.0),
    "redis_bytes_per_article": ("<=", 1024.0),
}


def machine(redis_version: str) -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kb = int(line.split()[1])
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "redis_version": redis_version,
        "platform": platform.platform(),
    }


def verdicts(result: dict[str, Any]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for key, (op, bound) in TARGETS.items():
        value = result.get(key)
        out[key] = None if value is None else (value >= bound if op == ">=" else value <= bound)
    return out


def write_json(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, sort_keys=False, default=str)
    (RESULTS / "latest.json").write_text(text + "\n", "utf-8")
    dated = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}.json"
    dated.write_text(text + "\n", "utf-8")
    return dated


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


ROWS = (
    ("ingest_entries_per_s", "newswire cold ingest (all stages, 2 cores), entries/s"),
    ("feedparser_entries_per_s", "bare `feedparser.parse` loop (1 core), entries/s"),
    ("reader_entries_per_s", "`reader` update_feeds, entries/s"),
    ("ingest_vs_feedparser", "ingest / feedparser (target ≥ 1.0)"),
    ("ingest_vs_reader", "ingest / reader (target ≥ 2.0)"),
    ("warm_polls_per_s", "warm round (median of 3), conditional polls/s (target ≥ 1000)"),
    ("warm_polls_per_s_2_replicas", "the same with 2 poller replicas (processes), polls/s"),
    ("latency_p50_s", "latency p50, response → XADD, s"),
    ("latency_p99_s", "latency p99, response → XADD, s (target ≤ 1.0)"),
    ("redis_bytes_per_article", "Redis bytes per article in the dedupe window (target ≤ 1024)"),
    ("redis_total_bytes_per_article", "Redis used_memory growth per article (streams included)"),
    ("worker_rss_mb", "Celery worker RSS after the run, MB (main + 2 children)"),
    ("worker_rss_before_mb", "Celery worker RSS before the run, MB"),
)


def write_markdown(result: dict[str, Any]) -> Path:
    ok = verdicts(result)
    m = result["machine"]
    lines = [
        f"Benchmark run {result['date']} on {m['cpu_model']} "
        f"({m['cores']} cores, {m['ram_gb']} GB), "
        f"Python {m['python']}, Redis {m['redis_version']}; {result['feeds']} feeds, "
        f"{result['cold']['published'] + result['cold']['duplicates']} entries ingested.",
        "",
        "| metric | value | target |",
        "|---|---:|:---:|",
    ]
    for key, label in ROWS:
        mark = {True: "✅", False: "❌", None: ""}[ok.get(key)]
        lines.append(f"| {label} | {_fmt(result.get(key))} | {mark} |")
    path = RESULTS / "latest.md"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path
