"""Benchmark classify + enrich per article (median and p95) on the DEV items and the seed article.

Wall-clock times include waiting for a shared CPU; the thread CPU time beside them does not.

.venv/bin/python scripts/bench_classify.py
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.core.classify import Classifier  # noqa: E402
from services.core.enrich import enrich  # noqa: E402
from services.core.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy  # noqa: E402

SHARED = ROOT.parent / "shared"


def main() -> int:
    t0 = time.perf_counter()
    clf = Classifier(load_taxonomy(DEFAULT_TAXONOMY_PATH))
    print(f"Classifier construction: {(time.perf_counter() - t0) * 1e3:.1f} ms")
    print(f"learned (weights file) topics: {clf.learned_topics}")
    corpus = SHARED / "corpus/news-items"
    dev = {json.loads(x)["id"] for x in (corpus / "dev-labels.jsonl").open()}
    items = [json.loads(x) for x in (corpus / "items.jsonl").open()]
    docs = [(i["title"], i["description"]) for i in items if i["id"] in dev]  # DEV items only
    seed = (SHARED / "seed-article.txt").read_text(encoding="utf-8")
    for _ in range(2):  # warm-up: language model load, token caches
        for title, text in docs[:50]:
            clf.classify(title, text)
            enrich(title, text)
    for label, batch in (("RSS items", docs), ("seed article x200", [("", seed)] * 200)):
        times, cpu = [], []
        for title, text in batch:
            start, start_cpu = time.perf_counter(), time.thread_time()
            clf.classify(title, text)
            enrich(title, text)
            cpu.append((time.thread_time() - start_cpu) * 1e3)
            times.append((time.perf_counter() - start) * 1e3)
        times.sort()
        p95 = times[int(len(times) * 0.95)]
        print(
            f"{label}: n={len(times)} median {statistics.median(times):.3f} ms, p95 {p95:.3f} ms"
            f" (thread CPU median {statistics.median(cpu):.3f} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
