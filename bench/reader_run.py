"""Runs inside bench/.venv: the `reader` library updating the served feeds once (cold).

Usage: reader_run.py URLS_FILE DB_PATH WORKERS. Prints one JSON line with the result.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections import Counter
from importlib.metadata import version

from reader import make_reader  # type: ignore[import-not-found]


def main() -> None:
    urls_file, db_path, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(urls_file, encoding="utf-8") as handle:
        urls = handle.read().split()
    reader = make_reader(db_path)
    for url in urls:
        reader.add_feed(url)
    warnings.simplefilter("ignore")
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    for result in reader.update_feeds_iter(workers=workers):
        if isinstance(result.value, Exception):
            cause = result.value.__cause__
            errors[f"{type(result.value).__name__}: {type(cause).__name__ if cause else ''}"] += 1
    elapsed = time.perf_counter() - started
    entries = reader.get_entry_counts().total
    reader.close()
    print(
        json.dumps(
            {
                "feeds": len(urls),
                "entries": entries,
                "errors": sum(errors.values()),
                "error_kinds": dict(errors),
                "elapsed_s": elapsed,
                "entries_per_s": entries / elapsed if elapsed else 0.0,
                "workers": workers,
                "reader_version": version("reader"),
            }
        )
    )


if __name__ == "__main__":
    main()
