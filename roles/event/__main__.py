"""`python -m roles.event check|new-secret|passwords|directory|trunk-password|board-password --event DIR [NAME ...]`:
validate a directory, create its secret, show phones' passwords (to type into a phone by hand),
write the phone directory, printable and its exports (`--out DIR`, default ./reports;
`--format html,csv,json,vcard,yealink`, default all; `--claims FILE` adds the participants'
claims that want to be listed, from the CSV `./televoc claims INVENTORY` writes), store the
upstream trunk's password (asked for, never echoed) in its file with mode 0600, and the
crew's password for the board alike."""

import argparse
import getpass
import os
import sys
import time
from pathlib import Path

from . import phonebook
from .claimslist import listed_claims
from .errors import EventError
from .load import load_directory, load_event
from .secret import MIN_BOARD_PASSWORD, board_secret_path, create_secret, secret_path, trunk_secret_path
from .sources import display


def _refused(error: EventError) -> int:
    """Every problem on its own line, `file:line: ...` first, as compilers print them."""
    count = f"{len(error.problems)} problem{'s' if len(error.problems) != 1 else ''}"
    print(f"televoc: the event directory {error.directory or ''} has {count}:".replace("  ", " "), file=sys.stderr)
    for problem in error.problems:
        print(problem, file=sys.stderr)
    return 2


def _formats(text: str) -> list[str]:
    """'json,vcard' -> ['json', 'vcard'] (argparse's type: an unknown format is refused)."""
    chosen = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in phonebook.FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(map(repr, unknown)) or repr(text)}: choose from {','.join(phonebook.FORMATS)}"
        )
    return chosen


def _write_directory(directory_model, out: Path, formats: list[str], claims=()) -> int:
    """The directory in each of `formats` (phonebook.FORMATS) into `out`, with the listed
    `claims` (claimslist.listed_claims)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in formats:
        file, render = phonebook.FORMATS[name]
        (out / file).write_text(render(directory_model, claims), encoding="utf-8", newline="")
        written.append(str(out / file))
    count = len(phonebook.entries(directory_model, claims))
    files = written[0] if len(written) == 1 else f"{', '.join(written[:-1])} and {written[-1]}"
    of_claims = f" ({len(claims)} of them participants' claims)" if claims else ""
    print(f"wrote {files}: {count} entr{'y' if count == 1 else 'ies'}{of_claims}")
    return 0


def _write_private(path: Path, text: str) -> None:
    """`text` into `path`, mode 0600, by rename (never half written, never open to others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new = path.with_name(path.name + ".new")
    new.unlink(missing_ok=True)
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    os.replace(new, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roles.event")
    parser.add_argument(
        "command", choices=["check", "new-secret", "passwords", "directory", "trunk-password", "board-password"]
    )
    parser.add_argument("--event", default="group_data/event", help="the event directory")
    parser.add_argument("names", nargs="*", help="passwords: only these phones")
    parser.add_argument("--out", default="reports", help="directory: where to write the files")
    parser.add_argument(
        "--format",
        type=_formats,
        default=list(phonebook.FORMATS),
        help=f"directory: which files, comma-separated, of {','.join(phonebook.FORMATS)} (default: all)",
    )
    parser.add_argument(
        "--claims",
        action="append",
        type=Path,
        default=[],
        help="directory: a CSV of participants' claims (./televoc claims INVENTORY writes it); "
        "those whose participant chose to be listed are added; may be given once per PBX",
    )
    args = parser.parse_intermixed_args(argv)
    directory = Path(args.event)

    if args.command == "trunk-password":
        try:
            event = load_event(directory)
        except EventError as e:
            return _refused(e)
        if event.trunk is None:
            print("televoc: event.yml has no trunk: add trunk: first (docs/trunks-and-venues.md)", file=sys.stderr)
            return 2
        path = trunk_secret_path(event, directory)
        password = getpass.getpass(f"the password of {event.trunk.username} at {event.trunk.registrar}: ").strip()
        if not password:
            print("televoc: no password given: nothing written", file=sys.stderr)
            return 2
        _write_private(path, password)
        print(f"wrote the trunk's password to {path} (mode 0600): keep it out of git")
        return 0

    if args.command == "board-password":
        try:
            event = load_event(directory)
        except EventError as e:
            return _refused(e)
        path = board_secret_path(event, directory)
        password = getpass.getpass("the crew's password for the board: ").strip()
        if len(password) < MIN_BOARD_PASSWORD:
            print(f"televoc: fewer than {MIN_BOARD_PASSWORD} characters: nothing written", file=sys.stderr)
            return 2
        if getpass.getpass("again: ").strip() != password:
            print("televoc: the two differ: nothing written", file=sys.stderr)
            return 2
        _write_private(path, password)
        print(f"wrote the crew's board password to {path} (mode 0600): keep it out of git")
        return 0

    if args.command == "new-secret":
        try:
            path = secret_path(load_event(directory), directory)
        except EventError as e:
            return _refused(e)
        if create_secret(path):
            print(f"created event secret {path} (mode 0600): keep it out of git, back it up")
        else:
            print(f"event secret {path} already exists: kept it")
        return 0

    try:
        directory_model = load_directory(directory)
    except EventError as e:
        return _refused(e)
    if args.command == "passwords":
        unknown = set(args.names) - {a.name for a in directory_model.accounts}
        if unknown:
            print(f"televoc: no such phone: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        print(f"{'phone':<20} {'extension':<10} {'SIP password':<26} web password (provisioned phones)")
        for a in directory_model.accounts:
            if not args.names or a.name in args.names:
                print(f"{a.name:<20} {a.extension:<10} {a.password:<26} {a.event_web_password or '-'}")
        for b in directory_model.bases:  # a DECT base's web interface (user: provisioning.web_user)
            if not args.names:
                print(f"{b.name:<20} {'DECT base':<10} {'-':<26} {b.web_password}")
        return 0
    if args.command == "directory":
        try:
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            claims = listed_claims(args.claims, directory_model, now)
        except EventError as e:
            count = f"{len(e.problems)} problem{'s' if len(e.problems) != 1 else ''}"
            print(f"televoc: the claims are refused ({count}); nothing was written:", file=sys.stderr)
            for problem in e.problems:
                print(problem, file=sys.stderr)
            return 2
        return _write_directory(directory_model, Path(args.out), args.format, claims)
    bases = directory_model.bases
    handsets = sum(1 for a in directory_model.accounts if a.base is not None)
    dect = f", {len(bases)} DECT base{'s' if len(bases) != 1 else ''} ({handsets} of the phones are handsets)"
    s = directory_model.services
    served = [
        f"{n} {what}{'s' if n != 1 else ''}"
        for n, what in ((len(s.paging), "paging group"), (len(s.intercoms), "intercom"), (len(s.conferences), "room"))
        if n
    ]
    print(
        f"{display(directory)}: event '{directory_model.event.name}', {len(directory_model.accounts)} phones, "
        f"{len(directory_model.groups)} group{'s' if len(directory_model.groups) != 1 else ''}"
        f"{dect if bases else ''}{''.join(', ' + x for x in served)}: OK"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
