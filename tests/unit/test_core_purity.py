import subprocess
import sys

FORBIDDEN = ("redis", "celery", "httpx", "aiohttp", "config", "kombu")


def test_core_imports_no_framework() -> None:
    code = (
        "import sys, pkgutil, importlib, services.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('services.core.' + m.name)\n"
        "print(' '.join(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert not loaded & set(FORBIDDEN), f"services.core pulled in {loaded & set(FORBIDDEN)}"
