"""Run the real pyinfra CLI in this process and count what it sends over SSH.

    python -m tests.pyinfra_counted COUNT_FILE -- INVENTORY deploy.py -y ...

Counts every remote command (an SSH exec request: commands and facts alike) and every file
upload (SFTP), and writes them as JSON to COUNT_FILE when pyinfra exits. Used by the benchmark.
"""

from __future__ import annotations

import atexit
import json
import sys

import paramiko

counts = {"remote_commands": 0, "uploads": 0, "commands": []}


def _counting(original, key):
    def wrapper(self, *args, **kwargs):
        counts[key] += 1
        if key == "remote_commands" and args:
            counts["commands"].append(str(args[0])[:120])
        return original(self, *args, **kwargs)

    return wrapper


def main() -> None:
    count_file, separator, *pyinfra_args = sys.argv[1:]
    assert separator == "--", __doc__
    paramiko.Channel.exec_command = _counting(paramiko.Channel.exec_command, "remote_commands")
    paramiko.SFTPClient.putfo = _counting(paramiko.SFTPClient.putfo, "uploads")

    def write():
        with open(count_file, "w") as f:
            json.dump(counts, f, indent=1)

    atexit.register(write)
    from pyinfra_cli.main import main as pyinfra_main

    sys.argv = ["pyinfra", *pyinfra_args]
    pyinfra_main()


if __name__ == "__main__":
    main()
