"""Start the gridmap API server as a subprocess for a benchmark, and wait until it answers.

One launcher for every benchmark that measures the server from outside (``bench/api.py``,
``bench/soak.py``, ``bench/import_memory.py``), so they all start it the way ``gridmap serve``
does (``api.cli``) and fail in one line when it does not come up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def start_server(
    store: str,
    port: int,
    log_path: Path,
    *,
    code: str | Path = ROOT,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
) -> subprocess.Popen:
    """Serve ``store`` (GeoPackage path or PostgreSQL URL) on 127.0.0.1:``port``; return the process.

    ``code`` is the checkout whose server runs (its folder goes first on PYTHONPATH: a benchmark
    may compare another checkout); ``env`` adds settings (``GRIDMAP_*``).  The server's output goes
    to ``log_path``, not a pipe, which nobody would read and which would block it.  Exits the
    benchmark with one line if the server stops or does not answer ``/api/health`` in ``timeout_s``.
    """
    environ = dict(os.environ, PYTHONPATH=str(code), **(env or {}))
    cmd = [
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--store",
        store,
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, env=environ, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{Path(sys.argv[0]).name}: the server exited; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    sys.exit(f"{Path(sys.argv[0]).name}: the server did not answer within {timeout_s:.0f} s; see {log_path}")
