"""Feed server subprocess: build the scaled documents and serve them (bench/feedserver.py).

Run as `python bench/serve.py SPEC_JSON`; prints one JSON line {"port": N, "documents": n}
when ready and serves until its stdin is closed (so it dies with the benchmark).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from corpus import Document, load_corpus, scaled, small  # noqa: E402
from feedserver import FeedApp  # noqa: E402


def documents(spec: dict[str, list[int]]) -> dict[str, Document]:
    """Every served document; `spec` maps a path prefix to [feeds, first_marker, small_only]."""
    corpus = load_corpus()
    out: dict[str, Document] = {}
    for prefix, (feeds, first, small_only) in spec.items():
        out.update(scaled(small(corpus) if small_only else corpus, feeds, prefix, first))
    return out


async def serve(spec: dict[str, list[int]]) -> None:
    docs = documents(spec)
    app = FeedApp({path: doc.body for path, doc in docs.items()})
    del docs
    gc.freeze()  # the documents live until exit: keep them out of the collector's scans
    port = await app.start()
    print(json.dumps({"port": port, "documents": len(app.documents)}), flush=True)
    try:
        await asyncio.to_thread(sys.stdin.read)
    finally:
        await app.stop()


def main() -> None:
    asyncio.run(serve(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
