"""`newswire run` (embedded Redis, a real worker) stops cleanly on SIGTERM: no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from services.demo.run import demo_feeds_dir
from services.demo.server import FeedServer
from tests.conftest import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def processes_mentioning(marker: str) -> list[int]:
    """Pids whose command line or environment mentions `marker` (our data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    data_dir = str(tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWIRE_")}
    env |= {
        "NEWSWIRE_DATA_DIR": data_dir,
        "NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSWIRE_LOG_FORMAT": "json",
        "NEWSWIRE_OBSERVABILITY__POLLER_PORT": "0",
        "NEWSWIRE_OBSERVABILITY__WORKER_PORT": "0",
    }
    with FeedServer.from_directory(demo_feeds_dir()) as server:
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(
            yaml.safe_dump({"feeds": [{"url": server.url(p)} for p in server.documents]})
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", "--feeds", str(feeds)],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        deadline = time.monotonic() + 90
        polled = 0
        for line in proc.stderr:
            if line.startswith("{") and json.loads(line).get("event") == "article.processed":
                polled += 1
                break
            assert time.monotonic() < deadline, "no article processed within 90 s"
        assert polled, "run exited before processing anything"
        assert len(processes_mentioning(data_dir)) >= 3  # newswire, redis-server, celery
        proc.send_signal(sig)
        proc.communicate(timeout=60)  # drain stderr while it shuts down
        assert proc.returncode == 0
    deadline = time.monotonic() + 15
    while processes_mentioning(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(data_dir) == [], "orphan processes left behind"
