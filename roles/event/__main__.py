"""`python -m roles.event check|new-secret|passwords|directory|trunk-password --event DIR [NAME ...]`:
validate a directory, create its secret, show phones' passwords (to type into a phone by hand),
write the printable phone directory (`--out DIR`, default ./reports), store the upstream
trunk's password (asked for, never echoed) in its file with mode 0600."""

import argparse
import getpass
import os
import sys
from pathlib import Path

from . import phonebook
from .errors import EventError
from .load import load_directory, load_event
from .secret import create_secret, secret_path, trunk_secret_path
from .sources import display


def _refused(error: EventError) -> int:
    """Every problem on its own line, `file:line: ...` first, as compilers print them."""
    count = f"{len(error.problems)} problem{'s' if len(error.problems) != 1 else ''}"
    print(f"televoc: the event directory {error.directory or ''} has {count}:".replace("  ", " "), file=sys.stderr)
    for problem in error.problems:
        print(problem, file=sys.stderr)
    return 2


def _write_directory(directory_model, out: Path) -> int:
    """directory.html (for A4 print) and directory.csv into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "directory.html").write_text(phonebook.render_html(directory_model), encoding="utf-8")
    (out / "directory.csv").write_text(phonebook.render_csv(directory_model), encoding="utf-8", newline="")
    count = len(phonebook.entries(directory_model))
    print(f"wrote {out / 'directory.html'} and {out / 'directory.csv'}: {count} entr{'y' if count == 1 else 'ies'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roles.event")
    parser.add_argument("command", choices=["check", "new-secret", "passwords", "directory", "trunk-password"])
    parser.add_argument("--event", default="group_data/event", help="the event directory")
    parser.add_argument("names", nargs="*", help="passwords: only these phones")
    parser.add_argument("--out", default="reports", help="directory: where to write the files")
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
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = path.with_name(path.name + ".new")
        new.unlink(missing_ok=True)
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        os.replace(new, path)
        print(f"wrote the trunk's password to {path} (mode 0600): keep it out of git")
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
        return _write_directory(directory_model, Path(args.out))
    bases = directory_model.bases
    handsets = sum(1 for a in directory_model.accounts if a.base is not None)
    dect = f", {len(bases)} DECT base{'s' if len(bases) != 1 else ''} ({handsets} of the phones are handsets)"
    print(
        f"{display(directory)}: event '{directory_model.event.name}', {len(directory_model.accounts)} phones, "
        f"{len(directory_model.groups)} group{'s' if len(directory_model.groups) != 1 else ''}"
        f"{dect if bases else ''}: OK"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
