"""Settings per concern, the old variable names, and the refusal to serve with the default secret key."""

from __future__ import annotations

import os
import subprocess
import sys

from gridmap.config import DEFAULT_SECRET_KEY, AuditSettings, Settings, is_loopback


def test_each_concern_reads_the_old_variables(monkeypatch):
    monkeypatch.setenv("GRIDMAP_AUDIT_MAX_DAYS_UNVISITED", "9")
    monkeypatch.setenv("GRIDMAP_SUPPRESS_COUNTS_BELOW", "5")
    assert AuditSettings().audit_max_days_unvisited == 9
    settings = Settings()
    assert settings.audit_max_days_unvisited == 9 and settings.audit.audit_max_days_unvisited == 9
    assert settings.privacy.suppress_counts_below == 5
    assert Settings(grid_target_households=250).partition.grid_target_households == 250


def test_serving_beyond_loopback_with_the_default_secret_key_is_refused(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    Settings(secret_key=DEFAULT_SECRET_KEY).api.check_serving("127.0.0.1")  # fine on this machine
    Settings(secret_key="a-real-secret").api.check_serving("0.0.0.0")
    env = {k: v for k, v in os.environ.items() if k != "GRIDMAP_SECRET_KEY"}
    env["GRIDMAP_GPKG_PATH"] = str(tmp_path / "never-created.gpkg")
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--host", "0.0.0.0", "--port", "8112"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "default secret key" in lines[0] and "GRIDMAP_SECRET_KEY" in lines[0], (
        done.stderr
    )
    assert not (tmp_path / "never-created.gpkg").exists()
