"""Facts about published provisioning files and pending resync notifications."""

from __future__ import annotations

import re

from pyinfra.api import FactBase, QuoteString, StringCommand

MISSING = "@@televoc-missing"
_MANIFEST_ROW = re.compile(r"^(?P<sha>[0-9a-f]{64})  (?P<name>[A-Za-z0-9_.-]+)$")


class ProvisioningManifest(FactBase):
    """
    The published provisioning files: file name -> sha256, from the manifest written with
    them; None when nothing was ever published. One remote command for any number of phones.

    + path: the manifest on the PBX
    """

    @staticmethod
    def default():
        return None

    def command(self, path: str) -> StringCommand:
        return StringCommand("cat", QuoteString(path), "2>/dev/null", "||", "echo", MISSING)

    def process(self, output):
        if any(line.strip() == MISSING for line in output):
            return None
        rows = (_MANIFEST_ROW.match(line.strip()) for line in output)
        return {m["name"]: m["sha"] for m in rows if m}


class PendingNotifications(FactBase):
    """
    Phones whose settings changed and that were not yet told to fetch them (names, in order).

    + path: the pending file
    """

    @staticmethod
    def default():
        return []

    def command(self, path: str) -> StringCommand:
        return StringCommand("cat", QuoteString(path), "2>/dev/null", "||", "true")

    def process(self, output):
        names = []
        for line in output:
            name = line.strip()
            if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) and name not in names:
                names.append(name)
        return names
