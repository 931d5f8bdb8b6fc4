"""Run the real pyinfra CLI in this process and count what it sends over SSH.

    python -m lab.bench.pyinfra_counted COUNT_FILE -- INVENTORY deploy.py -y ...

Counts every remote command (an SSH exec request: commands and facts alike) and every file
upload (SFTP), and writes them as JSON to COUNT_FILE when pyinfra exits. Used by the benchmark.

Also where the time goes, measured on the client:
- per remote command: its length in bytes, its output in characters and its seconds from the
  exec request to the exit status (the remote side's work plus the transfer of its output) and
  when it began ("at", seconds since the process started);
- per upload: its bytes, seconds and when it began;
- the whole process: wall seconds and CPU seconds (time.process_time: pyinfra, the deploy
  files, validation, rendering and parsing, all on the client).
"""

from __future__ import annotations

import atexit
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import paramiko

counts: dict[str, Any] = {"remote_commands": 0, "uploads": 0, "commands": [], "timings": [], "upload_timings": []}
_started: dict[int, tuple[float, dict]] = {}  # id(channel) -> (exec time, its timing record)
_current: list[dict] = []  # the records of the command pyinfra's connector is running
_began = time.monotonic()  # the process's start: each record's "at" counts from it


def _exec_command(original):
    def wrapper(self, command, *args, **kwargs):
        counts["remote_commands"] += 1
        text = command.decode(errors="replace") if isinstance(command, bytes) else str(command)
        counts["commands"].append(text[:120])
        record = {
            "command": text[:120],
            "bytes": len(text.encode()),
            "seconds": None,
            "output_chars": None,
            "at": round(time.monotonic() - _began, 4),
        }
        counts["timings"].append(record)
        _current.append(record)
        _started[id(self)] = (time.monotonic(), record)
        return original(self, command, *args, **kwargs)

    return wrapper


def _recv_exit_status(original):
    def wrapper(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        finally:
            begun = _started.pop(id(self), None)
            if begun is not None:
                begun[1]["seconds"] = round(time.monotonic() - begun[0], 4)

    return wrapper


def _run_shell_command(original):
    def wrapper(self, *args, **kwargs):
        _current.clear()
        result = original(self, *args, **kwargs)
        try:
            chars = sum(len(line.line) + 1 for line in result[1].combined_lines)
        except (AttributeError, IndexError, TypeError):
            chars = None
        for record in _current:
            record["output_chars"] = chars
        _current.clear()
        return result

    return wrapper


def _putfo(original):
    def wrapper(self, fl, *args, **kwargs):
        counts["uploads"] += 1
        began = time.monotonic()
        try:
            return original(self, fl, *args, **kwargs)
        finally:
            try:
                size = fl.tell()
            except (AttributeError, OSError, ValueError):
                size = None
            counts["upload_timings"].append(
                {"bytes": size, "seconds": round(time.monotonic() - began, 4), "at": round(began - _began, 4)}
            )

    return wrapper


def _patch(cls: type, name: str, wrap: Callable) -> None:
    """Replace cls.name by wrap(cls.name)."""
    setattr(cls, name, wrap(getattr(cls, name)))


def main() -> None:
    count_file, separator, *pyinfra_args = sys.argv[1:]
    assert separator == "--", __doc__
    began = time.monotonic()
    _patch(paramiko.Channel, "exec_command", _exec_command)
    _patch(paramiko.Channel, "recv_exit_status", _recv_exit_status)
    _patch(paramiko.SFTPClient, "putfo", _putfo)
    from pyinfra.connectors.ssh import SSHConnector

    _patch(SSHConnector, "run_shell_command", _run_shell_command)

    def write():
        counts["wall_seconds"] = round(time.monotonic() - began, 4)
        counts["client_cpu_seconds"] = round(time.process_time(), 4)
        counts["remote_seconds"] = round(sum(t["seconds"] or 0 for t in counts["timings"]), 4)
        counts["upload_seconds"] = round(sum(t["seconds"] or 0 for t in counts["upload_timings"]), 4)
        with open(count_file, "w") as f:
            json.dump(counts, f, indent=1)

    atexit.register(write)
    from pyinfra_cli.main import main as pyinfra_main

    sys.argv = ["pyinfra", *pyinfra_args]
    pyinfra_main()


if __name__ == "__main__":
    main()
