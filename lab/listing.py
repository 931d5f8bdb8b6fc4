"""What a PBX in the lab holds, measured from outside televoc: its Asterisk's objects as the
CLI prints them, the registrations an upstream holds, and the files that hold a secret. The
teardown tests compare a PBX after a teardown with one televoc never touched.

    baseline = never_touched(tmp / "blank")     # a lab whose NixOS runs an Asterisk of its own
    assert listing(lab) == baseline             # every object list, as Asterisk prints it
    assert files_holding(lab, secrets) == []    # no file on the PBX holds one of them

The listings are Asterisk's own output, not parsed by televoc's parsers (the proof must not
lean on the code it checks): only blank lines and trailing spaces are dropped, and the values
of Asterisk's database (its UUID differs from PBX to PBX; its keys are compared).
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from .lab import Lab

# Every object list of a PBX: what a teardown must leave as a PBX televoc never touched has it.
LISTINGS = (
    "pjsip show endpoints",
    "pjsip show auths",
    "pjsip show aors",
    "pjsip show identifies",
    "pjsip show registrations",
    "pjsip show contacts",
    "dialplan show",
    "dialplan show globals",
    "database show",
)
# Where the lab's simulated phones keep their files (SIPp's credentials, baresip's accounts):
# in the PBX's root only because the lab runs them there. A phone holds its own credentials,
# which teardown wipes on the phone (the snom tests prove that), not on the PBX.
PHONE_FILES = ("/tmp/televoc-lab/", "/var/lib/televoc-lab/")
# NixOS's own Asterisk with no configuration of anyone's: NixOS's asterisk.conf, modules.conf
# (autoload) and logger.conf, and none of the package's sample files (examples, not a PBX's).
UNTOUCHED_MODULE = """\
{ config, lib, pkgs, ... }:
{
  services.asterisk = { enable = true; useTheseDefaultConfFiles = [ ]; };
}
"""


def _normalized(command: str, text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if command == "database show":  # "/pbx/UUID : 73c0f195-..." -> "/pbx/UUID"
        lines = [line.split(" : ", 1)[0].split(": ", 1)[0].rstrip() for line in lines]
    return "\n".join(lines)


def listing(lab: Lab) -> dict[str, str]:
    """Every object list of `lab`'s Asterisk (LISTINGS), as its CLI prints them."""
    return {command: _normalized(command, lab.asterisk(command)) for command in LISTINGS}


def never_touched(workdir: Path, timeout: float = 20) -> dict[str, str]:
    """The object lists of a PBX televoc never touched: a lab of its own whose NixOS runs
    Asterisk with no configuration (UNTOUCHED_MODULE, in place of televoc's), taken down
    again once listed."""
    with Lab(workdir) as lab:
        module = lab.root / "etc/nixos/televoc/asterisk.nix"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(UNTOUCHED_MODULE)
        lab.run("nixos-rebuild switch", timeout=120)
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.25) + 1):  # bounded in count and time
            if "Asterisk" in lab.asterisk("core show version") or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        return listing(lab)


def registrations(lab: Lab, aor: str) -> list[str]:
    """What an upstream's Asterisk holds for the account `aor`: its contacts (`pjsip show
    contacts`) and the rows of its registrar in Asterisk's database."""
    contacts = [" ".join(line.split()) for line in lab.asterisk("pjsip show contacts").splitlines()]
    stored = lab.asterisk("database show registrar/contact").splitlines()
    return [line for line in contacts if line.startswith(f"Contact: {aor}/")] + [
        line.split(":", 1)[0] for line in stored if line.startswith(f"/registrar/contact/{aor};")
    ]


def files_holding(lab: Lab, secrets: list[str]) -> list[str]:
    """The files on `lab`'s PBX (as paths there) that hold any of `secrets`: every file written
    since the lab came up (the overlay's upper layer: televoc's, Asterisk's, the logs) and
    /run; without overlayfs, the whole root but /proc, /sys and /dev. The simulated phones'
    own files (PHONE_FILES) are not the PBX's."""
    upper = lab.workdir / "upper"
    roots = [upper, lab.root / "run"] if upper.is_dir() else [lab.root]
    with tempfile.NamedTemporaryFile("w", suffix=".patterns") as patterns:
        patterns.write("".join(f"{s}\n" for s in secrets if s))
        patterns.flush()
        found = subprocess.run(
            ["grep", "-rlF", "-D", "skip", "--exclude-dir=proc", "--exclude-dir=sys", "--exclude-dir=dev"]
            + ["-f", patterns.name, *map(str, roots)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # A file that vanished between grep listing a directory and reading it (Asterisk's
    # astdb.sqlite3-journal, a log being rotated) holds nothing now: grep says so and exits 2.
    errors = [e for e in found.stderr.splitlines() if not e.endswith(": No such file or directory")]
    if found.returncode not in (0, 1) and (errors or not found.stderr):
        raise RuntimeError(f"grep failed ({found.returncode}): {found.stderr}")
    paths = []
    for line in found.stdout.splitlines():
        for root in roots:
            if line.startswith(f"{root}/"):
                base = "/run" if root == lab.root / "run" else ""
                paths.append(base + line[len(str(root)) :])
                break
    return sorted(p for p in paths if not p.startswith(PHONE_FILES))
