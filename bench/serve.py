"""Feed server subprocess: build the scaled documents and serve them with FeedServer.

Run as `python bench/serve.py SPEC_JSON`; prints one JSON line {"port": N} when ready and
serves until its stdin is closed (so it dies with the benchmark).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from corpus import Document, load_corpus, scaled, small  # noqa: E402

from services.demo.server import FeedServer  # noqa: E402


def documents(spec: dict[str, list[int]]) -> dict[str, Document]:
    """Every served document; `spec` maps a path prefix to [feeds, first_marker, small_only]."""
    corpus = load_corpus()
    out: dict[str, Document] = {}
    for prefix, (feeds, first, small_only) in spec.items():
        out.update(scaled(small(corpus) if small_only else corpus, feeds, prefix, first))
    return out


def main() -> None:
    spec = json.loads(sys.argv[1])
    docs = documents(spec)
    server = FeedServer({path: doc.body for path, doc in docs.items()})
    server.request_queue_size = 256
    with server:
        print(json.dumps({"port": server.server_address[1], "documents": len(docs)}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
