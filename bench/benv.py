"""The benchmark's own virtualenv (bench/.venv): `reader`, matplotlib and py-spy live there only."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv"
REQUIREMENTS = BENCH / "requirements.txt"
MARKER = VENV / ".bench-installed"


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def venv_python() -> Path:
    return VENV / "bin" / "python"


def py_spy() -> Path:
    return VENV / "bin" / "py-spy"


def ensure_venv() -> bool:
    """Create bench/.venv and install requirements.txt unless done already; True if it installed."""
    if (
        MARKER.exists()
        and MARKER.read_text("utf-8").strip() == _digest()
        and venv_python().exists()
    ):
        return False
    if not venv_python().exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    MARKER.write_text(_digest(), "utf-8")
    return True


if __name__ == "__main__":
    print("installed" if ensure_venv() else "cached", venv_python())
