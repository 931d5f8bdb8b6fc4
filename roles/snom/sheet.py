"""The crew's subscription sheet for snom DECT bases: per base, each handset's slot and the
access code it subscribes with. No password on it: it is for paper, beside the handsets.

    python -m roles.snom.sheet --event group_data/event            # every base
    python -m roles.snom.sheet --event group_data/event dect-hall  # one base

Pure apart from main(): sheet() renders the text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from roles.event import Directory, EventError, load_directory
from roles.event.dectmodels import BASE_MODELS

from .dect import VENDOR, access_code


def sheet(directory: Directory, only: tuple[str, ...] = ()) -> str:
    """Per base (its model, MAC, location), its handsets by slot: slot, access code, name,
    extension, IPEI; a secondary names its primary."""
    out: list[str] = []
    for base in directory.bases:
        if only and base.name not in only or BASE_MODELS[base.model].vendor != VENDOR:
            continue
        where = f", {base.location}" if base.location else ""
        head = f"{base.name} ({base.model}, MAC {base.mac.upper()}{where})"
        if not base.holds_accounts:
            out += [f"{head}: a secondary of {base.primary}: its handsets subscribe to {base.primary}", ""]
            continue
        handsets = directory.handsets(base.name)
        count = f"{len(handsets)} handset{'' if len(handsets) == 1 else 's'}"
        out.append(f"{head}: {count} of {BASE_MODELS[base.model].lines}; each subscribes with its access code")
        rows = [("slot", "access code", "handset", "extension", "IPEI")]
        rows += [(str(a.slot), access_code(a.slot or 0), a.name, a.extension, a.ipei or "-") for a in handsets]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        out += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roles.snom.sheet", description=__doc__.splitlines()[0])
    parser.add_argument("--event", default="group_data/event", help="the event directory")
    parser.add_argument("bases", nargs="*", help="only these bases")
    args = parser.parse_args(argv)
    try:
        directory = load_directory(Path(args.event))
    except EventError as e:
        print(f"televoc: {e}", file=sys.stderr)
        return 2
    unknown = set(args.bases) - {b.name for b in directory.bases}
    if unknown:
        print(f"televoc: no such base in dect.yml: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    print(sheet(directory, tuple(args.bases)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
