"""Facts about published provisioning files, pending resync notifications, the provisioning
server's state and the teardown record."""

from __future__ import annotations

import json
import re

from pyinfra.api import FactBase, QuoteString, StringCommand
from pyinfra.api.exceptions import FactProcessError

from roles.shared.files import TextFile

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
    Phones whose settings changed and that were not yet told to fetch them (names, in order),
    or None when there is no pending file. Only lines that are phone names are read (grep, C
    locale): bytes that are not (a half-written line, garbage) cannot break the run, and the
    file is still cleared once the names in it were told.

    + path: the pending file
    """

    @staticmethod
    def default():
        return None

    def command(self, path: str) -> StringCommand:
        return StringCommand(
            "if",
            "[",
            "-e",
            QuoteString(path),
            "];",
            "then",
            "echo",
            "@@televoc-exists",
            ";",
            "LC_ALL=C",
            "grep",
            "-a",
            "-E",
            QuoteString("^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"),
            QuoteString(path),
            ";",
            "fi",
            ";",
            "true",
        )

    def process(self, output):
        lines = [line.strip() for line in output]
        if "@@televoc-exists" not in lines:
            return None
        names = []
        for name in lines:
            if name != "@@televoc-exists" and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) and name not in names:
                names.append(name)
        return names


class JsonFile(TextFile):
    """
    A JSON document on the PBX: None when the file does not exist; FactProcessError when it
    exists but cannot be read as JSON (never taken for "missing": a lost teardown record or
    provisioning state would hide phones that still hold credentials).

    + path: the file

    .. code:: python

        host.get_fact(JsonFile, path="/var/lib/televoc-provisioning/state.json")
    """

    def process(self, output):
        lines = super().process(output)
        if lines is None:
            return None
        try:
            value = json.loads("\n".join(lines))
        except ValueError as e:
            raise FactProcessError(f"not valid JSON ({e}); it is kept as it is, fix or remove it") from None
        if not isinstance(value, dict):
            raise FactProcessError("expected a JSON object")
        return value
