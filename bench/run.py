"""`make bench`: newswire vs bare feedparser vs `reader` on the same served feeds, in one run.

Phases: bench venv → feed server (subprocess) → feedparser loop → reader → newswire cold
ingest → warm round → steady-rate latency → memory / RSS → profiled ingest → results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import benv  # noqa: E402
import phases  # noqa: E402
import profiling  # noqa: E402
import report  # noqa: E402
import stack as stack_mod  # noqa: E402
from corpus import load_corpus, scaled  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.markdown import Markdown  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from services.core.models import FeedSource  # noqa: E402
from services.runtime import run_event_loop  # noqa: E402

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LOGS = RESULTS / "logs"
console = Console()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=2000, help="served feeds (~15 min at 2000)")
    ap.add_argument("--parse-pool", type=int, default=2, help="poller parse processes (0 = inline)")
    ap.add_argument("--reader-workers", type=int, default=4)
    ap.add_argument("--latency-feeds-per-s", type=float, default=2.0)
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--profile-feeds", type=int, default=240)
    ap.add_argument("--skip-reader", action="store_true", help="development only")
    return ap.parse_args()


class FeedServerProcess:
    """bench/serve.py in its own process (it must not share the GIL with the measured poller)."""

    def __init__(self, spec: dict[str, list[int]]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "serve.py"), json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.port = 0

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the feed server exited before it was ready")
        self.port = int(json.loads(line)["port"])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def progress_bar() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    )  # fmt: skip


def main() -> int:
    args = parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    corpus = load_corpus()
    latency_feeds = max(1, round(args.latency_feeds_per_s * args.latency_seconds))
    spec = {
        "f": [args.feeds, 0, 0],
        "p": [args.profile_feeds, 1000, 0],
        "l": [latency_feeds, 2000, 1],
    }
    out: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                           "feeds": args.feeds, "parse_pool": args.parse_pool}  # fmt: skip
    with progress_bar() as bar, tempfile.TemporaryDirectory(prefix="newswire-bench-") as tmp:
        work = Path(tmp)
        task = bar.add_task("bench/.venv (reader, matplotlib, py-spy)", total=1)
        benv.ensure_venv()
        server = FeedServerProcess(spec)
        bar.update(task, completed=1)
        task = bar.add_task("building feed variants", total=1)
        docs = scaled(corpus, args.feeds, "f", 0)
        server.wait_ready()
        bar.update(task, completed=1)
        try:
            out.update(measure(args, bar, server, docs, work))
        finally:
            server.stop()
    finish(out)
    return 0


def measure(args: argparse.Namespace, bar: Progress, server: FeedServerProcess,
            docs: dict[str, Any], work: Path) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {}
    task = bar.add_task("feedparser loop (1 core)", total=len(docs))
    bodies = [d.decoded() for d in docs.values()]
    out["feedparser"] = phases.feedparser_loop(bodies, lambda n: bar.update(task, completed=n))
    del bodies
    urls = [server.url(p) for p in docs]
    if not args.skip_reader:
        task = bar.add_task(f"reader update_feeds (workers={args.reader_workers})", total=None)
        out["reader"] = phases.reader_update(benv.venv_python(), urls, work, args.reader_workers)
        bar.update(task, total=1, completed=1)
    task = bar.add_task("redis-server + celery worker (concurrency 2)", total=1)
    stack_mod.log_to(LOGS / "poller.log")
    with (LOGS / "worker.log").open("ab") as worker_log:
        stack = stack_mod.start_stack(work / "redis", worker_log)
        bar.update(task, completed=1)
        try:
            out.update(run_event_loop(newswire(args, bar, server, urls, stack, work)))
        finally:
            stack.stop()
    return out


async def newswire(args: argparse.Namespace, bar: Progress, server: FeedServerProcess,
                   urls: list[str], stack: stack_mod.Stack,
                   work: Path) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"redis_version": stack.client.info("server")["redis_version"]}
    pool = stack_mod.parse_pool(args.parse_pool)
    feeds = [FeedSource(url=u) for u in urls]
    out["worker_rss_before_mb"] = stack.worker_rss_mb()
    memory_before = stack.used_memory()
    poller = stack_mod.make_poller(stack, pool)
    expected = out_entries_hint(args)
    task = bar.add_task("newswire cold ingest (stream events)", total=expected)
    cold = await phases.cold_ingest(poller, feeds, stack.client, stack.keys,
                                    lambda n: bar.update(task, completed=n))  # fmt: skip
    bar.update(
        task, total=cold.published + cold.duplicates, completed=cold.published + cold.duplicates
    )
    out["cold"] = cold.as_dict()
    out["redis_used_memory_delta"] = stack.used_memory() - memory_before
    out["redis_memory"] = phases.redis_memory(stack.client, stack.keys)
    task = bar.add_task("warm rounds (all unchanged, 3×)", total=None)
    out["warm"] = await phases.warm_rounds(poller, feeds)
    bar.update(task, total=1, completed=1)
    task = bar.add_task("warm rounds, 2 poller replicas (3×)", total=None)
    out["warm_2_replicas"] = await phases.warm_rounds_two_replicas(
        poller, feeds, stack.redis_server.url, work
    )
    bar.update(task, total=1, completed=1)
    lat_urls = [server.url(p) for p in scaled(load_corpus_small(), round(
        args.latency_feeds_per_s * args.latency_seconds), "l", 2000)]  # fmt: skip
    task = bar.add_task(f"steady arrival {args.latency_feeds_per_s}/s feeds", total=len(lat_urls))
    out["latency"] = await phases.steady_latency(
        poller, [FeedSource(url=u) for u in lat_urls], args.latency_feeds_per_s,
        stack.client, stack.keys, lambda n: bar.update(task, completed=n),
    )  # fmt: skip
    out["worker_rss_mb"] = stack.worker_rss_mb()
    await poller.fetcher.aclose()  # type: ignore[attr-defined]
    out["profile"] = await profiled_ingest(args, bar, server, stack, pool)
    if pool is not None:
        pool.shutdown()
    return out


def load_corpus_small() -> list[Any]:
    from corpus import small

    return small(load_corpus())


def out_entries_hint(args: argparse.Namespace) -> int:
    return int(args.feeds * 43)  # ~2,549 entries per 59-document corpus pass


async def profiled_ingest(args: argparse.Namespace, bar: Progress, server: FeedServerProcess,
                          stack: stack_mod.Stack, pool: Any) -> dict[str, Any]:  # fmt: skip
    """A second cold ingest on other variants with py-spy attached to every process."""
    corpus = load_corpus()
    urls = [server.url(p) for p in scaled(corpus, args.profile_feeds, "p", 1000)]
    spies = [profiling.start(benv.py_spy(), "poller", os.getpid(), LOGS / "profile-poller.txt"),
             profiling.start(benv.py_spy(), "worker", stack.worker.pid, LOGS / "profile-worker.txt",
                             subprocesses=True)]  # fmt: skip
    if pool is not None:
        for i, pid in enumerate(pool._processes):
            spies.append(profiling.start(benv.py_spy(), f"parse-{i}", pid,
                                         LOGS / f"profile-parse-{i}.txt"))  # fmt: skip
    await asyncio.sleep(1.5)
    poller = stack_mod.make_poller(stack, pool)
    task = bar.add_task("profiled cold ingest (py-spy)", total=args.profile_feeds * 43)
    try:
        result = await phases.cold_ingest(poller, [FeedSource(url=u) for u in urls], stack.client,
                                          stack.keys, lambda n: bar.update(task, completed=n))  # fmt: skip  # noqa: E501
    finally:
        await poller.fetcher.aclose()  # type: ignore[attr-defined]
        profiling.stop(spies)
    bar.update(task, total=1, completed=1)
    return {"ingest": result.as_dict(), "files": {s.name: s.out.name for s in spies}}


def finish(out: dict[str, Any]) -> None:
    cold, fp = out["cold"], out["feedparser"]
    reader = out.get("reader", {})
    held = max(1, cold["published"] + cold["duplicates"])
    mem = out["redis_memory"]
    out.update({
        "ingest_entries_per_s": cold["entries_per_s"],
        "feedparser_entries_per_s": fp["entries_per_s"],
        "reader_entries_per_s": reader.get("entries_per_s"),
        "ingest_vs_feedparser": cold["entries_per_s"] / fp["entries_per_s"],
        "ingest_vs_reader": (cold["entries_per_s"] / reader["entries_per_s"]) if reader else None,
        "warm_polls_per_s": out["warm"]["polls_per_s"],
        "warm_polls_per_s_2_replicas": out["warm_2_replicas"]["polls_per_s"],
        "latency_p50_s": out["latency"]["p50_s"],
        "latency_p99_s": out["latency"]["p99_s"],
        "redis_bytes_per_article": mem.get("dedupe_bytes", 0) / held,
        "redis_total_bytes_per_article": out["redis_used_memory_delta"] / held,
        "redis_stream_bytes_per_article": mem.get("stream_bytes", 0) / held,
    })  # fmt: skip
    out["machine"] = report.machine(out.pop("redis_version"))
    out["targets_met"] = report.verdicts(out)
    dated = report.write_json(out)
    table = report.write_markdown(out)
    subprocess.run([str(benv.venv_python()), str(BENCH / "chart.py"), str(RESULTS)], check=True)
    write_profile(out)
    console.print(Markdown(table.read_text("utf-8")))
    console.print(
        f"wrote {RESULTS / 'latest.json'}, {dated.name}, latest.md, latest.png, profile.md"
    )


def write_profile(out: dict[str, Any]) -> None:
    prof = out["profile"]
    parts = [
        "# Where the ingest time goes",
        "",
        f"Generated by `make bench` on {out['date']}: py-spy (100 Hz, non-blocking, idle time "
        f"excluded) attached during a second cold ingest of {prof['ingest']['feeds']} other feed "
        f"variants ({prof['ingest']['published']} articles, "
        f"{prof['ingest']['entries_per_s']:.0f} entries/s under the profiler). Raw folded stacks: "
        "`bench/results/logs/profile-*.txt`. A sample is charged to the innermost frame that "
        "matches a stage rule (bench/profiling.py).",
        "",
    ]
    for name, file in prof["files"].items():
        parts.append(profiling.section(f"{name} process", LOGS / file))
    notes = BENCH / "recommendations.md"
    if notes.exists():
        parts.append(notes.read_text("utf-8"))
    (RESULTS / "profile.md").write_text("\n".join(parts), "utf-8")


if __name__ == "__main__":
    sys.exit(main())
