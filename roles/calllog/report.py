"""The crew's statistics from an exported call log, printed (calls.py, and offline:

    python -m roles.calllog --event group_data/event reports/pbx-calls.csv
)."""

from __future__ import annotations

import argparse
import os
import sys

from roles.event import Directory, EventError, load_directory

from . import export, stats


def text_of(directory: Directory, path: str) -> str:
    """The statistics of the CSV at `path`, phones placed by `directory`'s locations."""
    where = stats.locations(directory)
    return stats.text(stats.statistics(stats.merged(export.read_csv(path)), where), where)


def printed(directory: Directory, path: str) -> bool:
    """calls.py's last step: the statistics on stdout (no export: says why)."""
    if not os.path.exists(path):
        print("no call log was exported (is call_log: enabled: true in event.yml, and was a call made?)")
        return True
    print(f"call log: {path}\n")
    print(text_of(directory, path), end="")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roles.calllog", description=__doc__)
    parser.add_argument("--event", required=True, help="the event directory (for the phones' locations)")
    parser.add_argument("csv", help="a call log exported by calls.py or teardown.py")
    args = parser.parse_args(argv)
    try:
        directory = load_directory(args.event)
    except EventError as e:
        print(e, file=sys.stderr)
        return 1
    print(text_of(directory, args.csv), end="")
    return 0
