"""Running the real pyinfra CLI for the bench, counting its remote commands: what the
default bench, the ceiling and the claims case share (lab.bench.pyinfra_counted counts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..deploys import REPO


def bench_env(event: Path, secret: Path) -> dict[str, str]:
    """The event, its secret, and the bench's own cache beside the secret (where a load keeps
    its record of passwords judged strong): never the user's. Python caches bytecode as on a
    crew's machine: PYTHONDONTWRITEBYTECODE, which a sandbox may set, is dropped (with it, every
    run would compile televoc's modules from their source again: group_data/all.py)."""
    return {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "TELEVOC_EVENT_DIR": str(event),
        "TELEVOC_SECRET_FILE": str(secret),
        "XDG_CACHE_HOME": str(secret.parent / "cache"),
    }


def counted_pyinfra(
    args: list[str], event: Path, secret: Path, counts: Path, log: Path, timeout: float = 900, env: dict | None = None
) -> tuple[int, dict, float, str]:
    """The real pyinfra CLI (lab.bench.pyinfra_counted), from the repository root, with the
    event (`env`: more variables, e.g. TELEVOC_PLAN_CACHE=off)."""
    env = {**bench_env(event, secret), **(env or {})}
    counts.unlink(missing_ok=True)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab.bench.pyinfra_counted", str(counts), "--", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    output = proc.stdout + proc.stderr
    log.write_text(output)
    data = json.loads(counts.read_text()) if counts.exists() else {}
    return proc.returncode, data, elapsed, output


def report_dir_data(work: Path) -> list[str]:
    """Where the deploy writes its CSV of every phone: the bench's workdir, not reports/ (only
    when the deploy declares that setting)."""
    try:
        from roles.asterisk.deploy import SETTINGS
    except ImportError:
        return []
    if any(getattr(s, "name", None) == "televoc_report_dir" for s in SETTINGS):
        return ["--data", f"televoc_report_dir={work / 'reports'}"]
    return []


def floor_run(inventory: Path, event: Path, secret: Path, work: Path) -> tuple[int, dict, float]:
    """pyinfra's floor: `pyinfra INVENTORY exec -- true`, counted (exit code, counts, wall s)."""
    code, counts, wall, _ = counted_pyinfra(
        [str(inventory), "exec", "-y", "--", "true"], event, secret, work / "floor.counts.json", work / "floor.log"
    )
    return code, counts, wall
