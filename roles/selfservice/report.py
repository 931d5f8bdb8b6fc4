"""claims.py's last step: what the exported claims add to the phone directory. Reads the CSV
on the crew's machine only."""

from __future__ import annotations

import os
import time
from pathlib import Path

from roles.event import Directory
from roles.event.claimslist import listed_claims
from roles.event.errors import EventError


def printed(directory: Directory, path: str) -> bool:
    """How many claims the file holds, how many want to be listed, and the command that adds
    them to the directory; a file the directory would refuse says why (and fails the step)."""
    if not os.path.exists(path):
        print("no claims were exported (is self_service: in event.yml, and served by this PBX?)")
        return True
    with open(path, encoding="utf-8") as f:
        held = max(sum(1 for _ in f) - 1, 0)
    try:
        listed = listed_claims([Path(path)], directory, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    except EventError as e:
        print(f"claims: {path}: {held} claims; the directory would refuse them:")
        for problem in e.problems:
            print(f"  {problem}")
        return False
    print(
        f"claims: {path}: {held} claims, {len(listed)} to be listed in the directory;\n"
        f"  add them to the printed directory and its exports: python -m roles.event directory --claims {path}"
    )
    return True
