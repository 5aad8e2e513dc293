"""Measure the poller's parse stage: CPU ms per feed entry of digest(), and an output digest.

Runs services/poller/digest.py::digest() (parse -> GUID/link checks -> normalise) in one
process over the documents of ../shared/corpus/feeds, as the benchmark serves them: each
timed round uses fresh variants (bench/corpus.py markers), so memoised links do not hit
across rounds more than they would in a real cold ingest. Prints:
- ``digest``: sha256 over every document's Digest (every Article's model_dump) for the 59
  original documents and their marker-1 variants; a change that keeps the output must keep it;
- ``cpu``: process CPU ms per entry and per document, best and median of the timed rounds.

    .venv/bin/python scripts/measure_parse_cost.py --rounds 5
    .venv/bin/python scripts/measure_parse_cost.py --profile 30   # cProfile, top 30 by tottime

Instruction counts (load-independent): run under `valgrind --tool=callgrind` twice with
`--no-digest --no-warmup --rounds 1`, once adding `--prepare-only`; the difference of the
two totals is one round of digest() over the corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import json
import pstats
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import Document, load_corpus, variant  # noqa: E402
from services.core.errors import ParseError  # noqa: E402
from services.poller.digest import digest  # noqa: E402

FETCHED_AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MAX_ENTRIES = 1000


def feed_url(doc: Document, marker: int) -> str:
    return f"http://127.0.0.1:8400/c{marker}/{doc.name}"


def run(doc: Document, body: bytes, marker: int) -> dict[str, Any]:
    """One document's digest as plain JSON-able data (or the ParseError it raised)."""
    try:
        d = digest(
            body,
            feed_id=f"f_{marker}_{doc.name}",
            feed_url=feed_url(doc, marker),
            fetched_at=FETCHED_AT,
            max_entries=MAX_ENTRIES,
        )
    except ParseError as exc:
        return {"error": str(exc)}
    return {
        "title": d.title,
        "format": d.format,
        "problem": d.problem,
        "entries": d.entries,
        "hub_url": d.hub_url,
        "articles": [a.model_dump(mode="json") for a in d.articles],
    }


def output_digest(corpus: list[Document], dump: Path | None) -> str:
    """sha256 of the digests of the original documents and their marker-1 variants."""
    out: dict[str, Any] = {}
    for doc in corpus:
        out[doc.name] = run(doc, doc.decoded(), 0)
        out[f"v1/{doc.name}"] = run(doc, variant(doc, 1).decoded(), 1)
    text = json.dumps(out, sort_keys=True, ensure_ascii=False)
    if dump is not None:
        dump.write_text(json.dumps(out, sort_keys=True, ensure_ascii=False, indent=1), "utf-8")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def timed_round(bodies: list[tuple[Document, bytes, int]]) -> tuple[float, int]:
    """(CPU seconds, entries) for one pass of digest() over `bodies`."""
    entries = 0
    start = time.process_time()
    for doc, body, marker in bodies:
        with contextlib.suppress(ParseError):
            entries += digest(
                body,
                feed_id="f_x",
                feed_url=feed_url(doc, marker),
                fetched_at=FETCHED_AT,
                max_entries=MAX_ENTRIES,
            ).entries
    return time.process_time() - start, entries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds (fresh variants each)")
    ap.add_argument("--profile", type=int, default=0, help="cProfile one round; show top N")
    ap.add_argument("--dump", type=Path, help="write the digested output (JSON) here")
    ap.add_argument("--no-digest", action="store_true", help="skip the equivalence digest")
    ap.add_argument("--no-warmup", action="store_true", help="no untimed first round")
    ap.add_argument("--prepare-only", action="store_true", help="build the rounds, time none")
    args = ap.parse_args()

    corpus = load_corpus()
    if not args.no_digest:
        print(f"digest {output_digest(corpus, args.dump)} ({len(corpus)} documents + variants)")
    rounds = [
        [(doc, variant(doc, 100 + r).decoded(), 100 + r) for doc in corpus]
        for r in range(max(args.rounds, 1))
    ]
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        timed_round(rounds[0])
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("tottime")
        stats.print_stats(args.profile)
        return
    if args.prepare_only:
        return
    if not args.no_warmup:  # imports, first caches
        timed_round([(doc, doc.decoded(), 0) for doc in corpus])
    samples = [timed_round(bodies) for bodies in rounds]
    entries = samples[0][1]
    per_entry = [cpu * 1000 / entries for cpu, _ in samples]
    per_doc = [cpu * 1000 / len(corpus) for cpu, _ in samples]
    print(
        f"cpu {min(per_entry):.3f} ms/entry best, {statistics.median(per_entry):.3f} median "
        f"({min(per_doc):.1f} / {statistics.median(per_doc):.1f} ms/document; "
        f"{entries} entries in {len(corpus)} documents, {len(samples)} rounds)"
    )


if __name__ == "__main__":
    main()
