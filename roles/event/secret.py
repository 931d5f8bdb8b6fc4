"""The event's secrets: the event secret (every derived password comes from it) and the
trunk's password, each in a file of its own outside git; where they are, how they are
checked, and the passwords derived from the event secret."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import shlex
import stat
from pathlib import Path

from .model import Event
from .sources import SECRET_ORDER, Report, display

SECRET_ENV = "TELEVOC_SECRET_FILE"
TRUNK_SECRET_ENV = "TELEVOC_TRUNK_SECRET_FILE"
BOARD_SECRET_ENV = "TELEVOC_BOARD_SECRET_FILE"
MIN_BOARD_PASSWORD = 12
MIN_SECRET_LENGTH = 32


def secret_path(event: Event, directory: Path) -> Path:
    """Where the event secret lives: $TELEVOC_SECRET_FILE, event.yml's secret_file, or
    ~/.config/televoc/<event>.secret. Keep it out of git."""
    if os.environ.get(SECRET_ENV):
        return Path(os.environ[SECRET_ENV]).expanduser()
    if event.secret_file:
        return (directory / Path(event.secret_file).expanduser()).resolve()
    return Path.home() / ".config" / "televoc" / f"{event.name}.secret"


def trunk_secret_path(event: Event, directory: Path) -> Path:
    """Where the trunk's password lives: $TELEVOC_TRUNK_SECRET_FILE, trunk.secret_file, or
    ~/.config/televoc/<event>.trunk.secret. Keep it out of git, like the event secret."""
    if os.environ.get(TRUNK_SECRET_ENV):
        return Path(os.environ[TRUNK_SECRET_ENV]).expanduser()
    if event.trunk is not None and event.trunk.secret_file:
        return (directory / Path(event.trunk.secret_file).expanduser()).resolve()
    return Path.home() / ".config" / "televoc" / f"{event.name}.trunk.secret"


def board_secret_path(event: Event, directory: Path) -> Path:
    """Where the crew's password for the board lives: $TELEVOC_BOARD_SECRET_FILE,
    board.password_file, or ~/.config/televoc/<event>.board.secret. Keep it out of git."""
    if os.environ.get(BOARD_SECRET_ENV):
        return Path(os.environ[BOARD_SECRET_ENV]).expanduser()
    if event.board is not None and event.board.password_file:
        return (directory / Path(event.board.password_file).expanduser()).resolve()
    return Path.home() / ".config" / "televoc" / f"{event.name}.board.secret"


def _first_line(path: Path, whose: str, wanted_by: str, create: str, report: Report) -> str | None:
    """The first line of the password file `path` (stripped), or None with its problem
    reported: missing (`wanted_by`: what in event.yml asks for it) or open to others.
    `whose`: whose password it is, as the messages name it; `create`: how to write it."""
    if not path.is_file():
        missing = f"{path}: {whose} password file is missing, but event.yml has {wanted_by}: {create}"
        report.add(SECRET_ORDER, None, missing)
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        report.add(
            SECRET_ORDER,
            None,
            f"{path}: {whose} password file is open to others (mode {mode:04o}): chmod 600 {shlex.quote(str(path))}",
        )
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines[0].strip() if lines else ""


def read_board_password(path: Path, directory: Path, report: Report) -> str | None:
    """The crew's password for the board (the file's first line), or None with its problems
    reported: missing, open to others, or shorter than MIN_BOARD_PASSWORD characters."""
    create = f"write it: python -m roles.event board-password --event {shlex.quote(display(directory))}"
    password = _first_line(path, "the crew's board", "board:", create, report)
    if password is not None and len(password) < MIN_BOARD_PASSWORD:
        report.add(
            SECRET_ORDER,
            None,
            f"{path}: the crew's board password has fewer than {MIN_BOARD_PASSWORD} characters: {create}",
        )
        return None
    return password


def read_trunk_password(path: Path, directory: Path, report: Report) -> str | None:
    """The trunk's password (the file's first line), or None with its problems reported."""
    create = f"write it: python -m roles.event trunk-password --event {shlex.quote(display(directory))}"
    password = _first_line(path, "the trunk's", "a trunk", create, report)
    if password is not None and (not password or re.search(r"[;\\\s\x00-\x1f\"']", password)):
        report.add(
            SECRET_ORDER,
            None,
            f"{path}: the trunk's password is empty or has a space, quote, ';' or '\\' "
            f"(Asterisk's config syntax): {create}",
        )
        return None
    return password


def create_secret(path: Path) -> bool:
    """Write a new random event secret (mode 0600); False if one is already there."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    return True


# Base32 (RFC 4648, lower case), 10 bits at a time: two characters per lookup.
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_BASE32_PAIRS = [a + b for a in _BASE32 for b in _BASE32]


def derive_password(secret: str, event_name: str, phone_name: str) -> str:
    """A strong SIP password that stays the same on every run for the same secret: the first
    24 base32 characters (120 bits) of HMAC-SHA256(secret, "televoc/sip-password/<event>/<phone>").

    The standard library's HMAC, keyed once per secret and copied per phone (10,000
    provisioned phones derive 20,000 passwords); base32 of the first 15 bytes, 10 bits at a
    time. tests/unit/test_event_directory.py checks it against hmac.new and b32encode."""
    mac = _keyed(secret).copy()
    mac.update(f"televoc/sip-password/{event_name}/{phone_name}".encode())
    n = int.from_bytes(mac.digest()[:15], "big")
    p = _BASE32_PAIRS
    return (
        p[n >> 110]
        + p[n >> 100 & 1023]
        + p[n >> 90 & 1023]
        + p[n >> 80 & 1023]
        + p[n >> 70 & 1023]
        + p[n >> 60 & 1023]
        + p[n >> 50 & 1023]
        + p[n >> 40 & 1023]
        + p[n >> 30 & 1023]
        + p[n >> 20 & 1023]
        + p[n >> 10 & 1023]
        + p[n & 1023]
    )


@functools.lru_cache(maxsize=4)
def _keyed(secret: str):
    """An HMAC-SHA256 object keyed with the event secret, to be copied for each message."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def new_secret_command(directory: Path) -> str:
    return f"python -m roles.event new-secret --event {shlex.quote(display(directory))}"


def read_secret(path: Path, directory: Path, why: str, report: Report) -> str | None:
    """The event secret, or None with its problems reported (`why` says who needs it)."""
    shown_path = shlex.quote(str(path))
    create = f"create it: {new_secret_command(directory)}"
    if not path.is_file():
        report.add(SECRET_ORDER, None, f"{path}: the event secret is missing, but {why}: {create}")
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        report.add(
            SECRET_ORDER,
            None,
            f"{path}: the event secret cannot be read ({e}): delete it (rm {shown_path}) and {create}",
        )
        return None
    problems = False
    # Refused like ssh refuses a private key others can read: whoever reads it has every
    # derived password of the event.
    if mode & 0o077:
        who = " and ".join(w for w, bits in (("its group", 0o070), ("others", 0o007)) if mode & bits)
        report.add(
            SECRET_ORDER,
            None,
            f"{path}: the event secret is open to {who} (mode {mode:04o}), and like an ssh private "
            f"key it must be private to its owner: chmod 600 {shown_path}",
        )
        problems = True
    if len(value) < MIN_SECRET_LENGTH:
        report.add(
            SECRET_ORDER,
            None,
            f"{path}: the event secret has {len(value)} characters, fewer than {MIN_SECRET_LENGTH}: "
            f"delete it (rm {shown_path}) and {create}",
        )
        problems = True
    return None if problems else value
